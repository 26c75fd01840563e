package inventory

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// state is where a reservation stands.
type state string

const (
	// stateReserving: lines are being taken from stock.
	stateReserving state = "reserving"
	// stateRejecting: a line could not be taken; the lines taken are
	// being put back.
	stateRejecting state = "rejecting"
	// stateReserved: every line is taken. Stable until a release.
	stateReserved state = "reserved"
	// stateRejected: nothing is held. Final.
	stateRejected state = "rejected"
	// stateReleasing: the lines are being put back.
	stateReleasing state = "releasing"
	// stateReleased: nothing is held any more, or never was (a tombstone
	// left by a cancel before the reservation). Final.
	stateReleased state = "released"
)

// inProgress reports whether a worker is moving the reservation between
// stable states, and so holds a lease on it.
func (s state) inProgress() bool {
	return s == stateReserving || s == stateRejecting || s == stateReleasing
}

// reservation is the value of an order in the reservations bucket.
type reservation struct {
	OrderID string `json:"order_id"`
	State   state  `json:"state"`
	Lines   []line `json:"lines"`
	// Pending announces a stock write that may or may not have landed.
	Pending *intent `json:"pending,omitempty"`
	// Reason and ProductID say why it was rejected.
	Reason    contracts.Reason `json:"reason,omitempty"`
	ProductID string           `json:"product_id,omitempty"`
	// Cause is the subject of the event that released it.
	Cause contracts.ReleaseCause `json:"cause,omitempty"`
	// Owner and LeaseUntil tell which worker is moving it, until when.
	Owner      string    `json:"owner,omitempty"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// line is an item of the order and whether its stock is held.
type line struct {
	ProductID string `json:"product_id"`
	Quantity  int    `json:"quantity"`
	// UnitPriceCents is the price when the line was taken.
	UnitPriceCents int64 `json:"unit_price_cents"`
	// Held is true while the quantity is deducted from stock for the order.
	Held bool `json:"held"`
}

// opKind is a kind of stock write a reservation makes.
type opKind string

const (
	opTake   opKind = "take"
	opReturn opKind = "return"
)

// intent announces a stock write: a CAS of line Line's product at
// revision FromRev, marked with the op of Kind for this order and line.
type intent struct {
	Line    int    `json:"line"`
	Kind    opKind `json:"kind"`
	FromRev uint64 `json:"from_rev"`
}

// opID is the op marker of a reservation's stock write.
func opID(kind opKind, orderID string, line int) string {
	return fmt.Sprintf("%s:%s:%d", kind, orderID, line)
}

func newReservation(ev contracts.OrderCreatedEvent) *reservation {
	r := &reservation{OrderID: ev.OrderID, State: stateReserving, Lines: make([]line, len(ev.Items))}
	for i, it := range ev.Items {
		r.Lines[i] = line{ProductID: it.ProductID, Quantity: it.Quantity}
	}
	return r
}

func decodeReservation(orderID string, data []byte) (*reservation, error) {
	var r reservation
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, runtime.Permanent(fmt.Errorf("reservation of %s is not a reservation record: %v: %w", orderID, err, runtime.ErrInternal))
	}
	if r.Pending != nil && (r.Pending.Line < 0 || r.Pending.Line >= len(r.Lines)) {
		return nil, runtime.Permanent(fmt.Errorf("reservation of %s: pending line %d of %d: %w", orderID, r.Pending.Line, len(r.Lines), runtime.ErrInternal))
	}
	return &r, nil
}

// items lists the order's lines as order items.
func (r *reservation) items() []contracts.OrderItem {
	out := make([]contracts.OrderItem, len(r.Lines))
	for i, l := range r.Lines {
		out[i] = contracts.OrderItem{ProductID: l.ProductID, Quantity: l.Quantity}
	}
	return out
}

// held reports whether any line is still deducted from stock.
func (r *reservation) held() bool {
	for _, l := range r.Lines {
		if l.Held {
			return true
		}
	}
	return false
}

func jsonEncode(r *reservation) ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode reservation %s: %v: %w", r.OrderID, err, runtime.ErrInternal)
	}
	return b, nil
}
