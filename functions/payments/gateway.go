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
	// Cancel calls off the order's payment, whatever its state: a charge
	// made is refunded, and a charge not made yet never will be (a later
	// Charge wraps ErrCancelled). It is idempotent by order id too, and
	// says which of the two happened. A gateway that cannot answer wraps
	// ErrOutage.
	Cancel(ctx context.Context, orderID string) (Cancellation, error)
}

// Cancellation is what Cancel did.
type Cancellation struct {
	// Refunded is true when the order had been charged and the charge was
	// refunded; false when it had not been charged (or was declined).
	Refunded bool
	// PaymentID and AmountCents name the refunded charge.
	PaymentID   string
	AmountCents int64
}

var (
	// ErrDeclined is the gateway's answer "no": final for the order.
	ErrDeclined = errors.New("payment declined")
	// ErrOutage means the gateway could not answer; the order waits and
	// is charged later.
	ErrOutage = errors.New("payment gateway unavailable")
	// ErrCancelled is Charge's answer for an order whose payment was
	// cancelled first: final, and nothing was charged.
	ErrCancelled = errors.New("payment cancelled")
)
