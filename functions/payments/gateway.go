package payments

import (
	"context"
	"errors"
)

// Gateway charges orders. Implementations must be idempotent by order id:
// a second Charge of an order returns the first call's outcome and never
// charges again, because a crash or a redelivery repeats calls.
type Gateway interface {
	// Charge charges amountCents for the order and returns the payment id.
	// A decline wraps ErrDeclined; a gateway that cannot answer wraps
	// ErrOutage (any other error is treated the same way).
	Charge(ctx context.Context, orderID string, amountCents int64) (paymentID string, err error)
}

var (
	// ErrDeclined is the gateway's answer "no": final for the order.
	ErrDeclined = errors.New("payment declined")
	// ErrOutage means the gateway could not answer; the order waits and
	// is charged later.
	ErrOutage = errors.New("payment gateway unavailable")
)
