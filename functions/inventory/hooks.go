package inventory

import "time"

// Points where tests inject a crash.
const (
	// pointIntent: a stock write is announced and not made yet.
	pointIntent = "intent"
	// pointLanded: a stock write landed and is not recorded yet.
	pointLanded = "landed"
	// pointDecided: the reservation reached a stable state; the event is
	// not emitted yet.
	pointDecided = "decided"
)

// hooks inject faults in tests. An error from at aborts the handler at
// that point, as a crash would (no clean-up runs).
type hooks struct {
	at    func(point, orderID string, line int) error
	lease time.Duration
}

func (h hooks) fire(point, orderID string, line int) error {
	if h.at == nil {
		return nil
	}
	return h.at(point, orderID, line)
}
