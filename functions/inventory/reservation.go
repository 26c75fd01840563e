package inventory

import (
	"fmt"
	"time"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// state is where a reservation stands. Each is reached in one transaction
// with the stock it holds or gives back, so none is "in progress".
type state string

const (
	// stateReserved: every line is deducted from stock. Stable until a
	// release.
	stateReserved state = "reserved"
	// stateRejected: nothing was taken. Final.
	stateRejected state = "rejected"
	// stateReleased: the lines went back to stock, or nothing was ever
	// taken (a tombstone left by a cancel before the reservation). Final.
	stateReleased state = "released"
)

// reservation is what inventory did for an order.
type reservation struct {
	OrderID string `json:"order_id"`
	State   state  `json:"state"`
	Lines   []line `json:"lines"`
	// Reason and ProductID say why it was rejected.
	Reason    contracts.Reason `json:"reason,omitempty"`
	ProductID string           `json:"product_id,omitempty"`
	// Cause is the subject of the event that released it.
	Cause     contracts.ReleaseCause `json:"cause,omitempty"`
	UpdatedAt time.Time              `json:"updated_at"`
}

// line is an item of the order, with its price when it was reserved.
type line struct {
	ProductID      string `json:"product_id"`
	Quantity       int    `json:"quantity"`
	UnitPriceCents int64  `json:"unit_price_cents"`
}

// reservationKey is an order's key in the stock bucket. A product id
// never holds a '/' (contracts' id pattern), so no product has this key.
func reservationKey(orderID string) string { return "reservation/" + orderID }

// reservationOf returns the reservation an entry read under an order's key
// holds.
func reservationOf(orderID string, e entry) (*reservation, error) {
	if e.Reservation == nil {
		return nil, runtime.Permanent(fmt.Errorf("the value of order %s is not a reservation: %w", orderID, runtime.ErrInternal))
	}
	return e.Reservation, nil
}

// items lists the order's lines as order items.
func (r *reservation) items() []contracts.OrderItem {
	out := make([]contracts.OrderItem, len(r.Lines))
	for i, l := range r.Lines {
		out[i] = contracts.OrderItem{ProductID: l.ProductID, Quantity: l.Quantity}
	}
	return out
}

// byProduct sums the lines' quantities per product, in the order the
// products first appear.
func byProduct(items []contracts.OrderItem) (products []string, quantity map[string]int) {
	quantity = make(map[string]int, len(items))
	for _, it := range items {
		if _, ok := quantity[it.ProductID]; !ok {
			products = append(products, it.ProductID)
		}
		quantity[it.ProductID] += it.Quantity
	}
	return products, quantity
}
