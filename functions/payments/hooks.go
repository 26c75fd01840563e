package payments

// pointCharged is where tests inject a crash: the gateway charged, the
// record does not say so yet.
const pointCharged = "charged"

// hooks inject faults in tests. An error from at aborts the handler at
// that point, as a crash would.
type hooks struct {
	at func(point, orderID string) error
}

func (h hooks) fire(point, orderID string) error {
	if h.at == nil {
		return nil
	}
	return h.at(point, orderID)
}
