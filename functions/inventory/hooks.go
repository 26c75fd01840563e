package inventory

// Points where tests inject a crash, in the order a handler passes them.
const (
	// pointStaged: the transaction has read and decided, and staged its
	// writes; nothing is committed.
	pointStaged = "staged"
	// pointCommitted: the transaction committed; the event is not
	// emitted yet.
	pointCommitted = "committed"
	// pointEmitted: the event is emitted; the message is not acked yet.
	pointEmitted = "emitted"
)

// hooks inject faults in tests. An error from at aborts the handler at
// that point, as a crash would (no clean-up runs).
type hooks struct {
	at func(point, orderID string) error
}

func (h hooks) fire(point, orderID string) error {
	if h.at == nil {
		return nil
	}
	return h.at(point, orderID)
}
