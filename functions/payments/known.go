package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// DefaultUnknownOrderWait is how long a charge waits for orders to know
// its order before it declines it (Config.UnknownOrderWait).
const DefaultUnknownOrderWait = 2 * time.Minute

// unknownOrderRetry is how soon a charge asks orders again about an order
// it does not know yet.
const unknownOrderRetry = 2 * time.Second

// ordersGetSilence is how long a charge waits for orders.get's answer
// before it asks again (a read, so asking twice is harmless): an answer
// is lost when orders' connection to NATS drops while it handles the
// request, and the charge then waited its whole 20 s bound (drill a, an
// ORDERS stream leader SIGKILLed).
const ordersGetSilence = 2 * time.Second

// verdict is what orders says about the order a charge is for.
type verdict int

const (
	orderOpen      verdict = iota // pending, reserved or confirmed: charge it
	orderCancelled                // cancelled: never charge it; void calls its payment off
	orderUnknown                  // orders does not know it, and will not: decline it
)

// checkOrder asks orders (orders.get) whether it knows the order before the
// first charge, so that no money is taken for an order orders never
// stored: a stray inventory.reserved, or one caused by a stray
// orders.created (issue 8.6).
//
// orders stores every order before or soon after announcing it (event
// first, see functions/orders), and a read may come from a replica that
// lags behind the write, so "not found" is transient: the message comes
// back every unknownOrderRetry while the event is younger than
// UnknownOrderWait, and only then is the order declared unknown. Orders
// not answering at all (an outage, an election) is no answer and is
// retried without a bound, as a gateway outage is.
func (f *function) checkOrder(ctx context.Context, orderID string) (verdict, error) {
	v, err := runtime.Request[contracts.OrderView](ctx, contracts.SubjectOrdersGet, contracts.GetOrderRequest{OrderID: orderID},
		runtime.Resend(ordersGetSilence))
	switch {
	case err == nil && v.Status == contracts.StatusCancelled:
		return orderCancelled, nil
	case err == nil:
		return orderOpen, nil
	case !errors.Is(err, runtime.ErrNotFound):
		return 0, runtime.Unavailable(err, "orders could not say whether it knows order %s", orderID)
	}
	if f.young(ctx) {
		return 0, runtime.RetryAfter(unknownOrderRetry,
			fmt.Errorf("order %s unknown to orders (yet): %w", orderID, runtime.ErrUnavailable))
	}
	return orderUnknown, nil
}

// young reports whether the triggering event is younger than
// UnknownOrderWait: by its ce-time header, or, without one, by its
// deliveries so far.
func (f *function) young(ctx context.Context) bool {
	msg := runtime.MessageFrom(ctx)
	if t, err := time.Parse(time.RFC3339Nano, msg.HeaderValue("ce-time")); err == nil {
		return time.Since(t) < f.cfg.UnknownOrderWait
	}
	return time.Duration(msg.Delivered)*unknownOrderRetry < f.cfg.UnknownOrderWait
}
