package contracts

// Streams of events, one per domain.
const (
	// StreamOrders stores the orders.* events.
	StreamOrders = "ORDERS"
	// StreamInventory stores the inventory.* events.
	StreamInventory = "INVENTORY"
	// StreamPayments stores the payments.* events.
	StreamPayments = "PAYMENTS"
)

// StreamDef describes a stream as plain data. The runtime or the infra
// adds the operational settings (limits retention, file storage, a 2m
// duplicate window, replicas).
type StreamDef struct {
	// Name is the stream name, e.g. "ORDERS".
	Name string
	// Subjects lists every event subject the stream stores, explicitly:
	// no wildcard, and never a request subject.
	Subjects []string
	// Description says what the stream holds.
	Description string
}

// Streams returns the event streams, derived from [Events] so that a
// subject is written down once. The slices are new on each call.
func Streams() []StreamDef {
	var defs []StreamDef
	index := map[string]int{}
	for _, ev := range Events() {
		i, ok := index[ev.Stream()]
		if !ok {
			i = len(defs)
			index[ev.Stream()] = i
			defs = append(defs, StreamDef{Name: ev.Stream(), Description: streamDescription(ev.Stream())})
		}
		defs[i].Subjects = append(defs[i].Subjects, ev.Subject())
	}
	return defs
}

func streamDescription(name string) string {
	switch name {
	case StreamOrders:
		return "natsfn order events: created, cancelled, confirmed"
	case StreamInventory:
		return "natsfn inventory events: reserved, rejected, released"
	case StreamPayments:
		return "natsfn payment events: completed, failed, refunded"
	// natsfn new: stream descriptions
	default:
		return "natsfn events"
	}
}

// LookupStream returns the definition of the stream with the given name.
func LookupStream(name string) (StreamDef, bool) {
	for _, d := range Streams() {
		if d.Name == name {
			return d, true
		}
	}
	return StreamDef{}, false
}
