package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// void handles orders.cancelled: it calls off the order's payment.
//   - No record yet (the cancel came before inventory.reserved): a voided
//     record, so that no later delivery charges the order.
//   - Charging (the charge is under way, or waits out an outage) or
//     completed (the cancel raced the charge and lost): the record says
//     cancelling, and the gateway's Cancel refunds the charge or makes
//     sure it never happens. The record ends refunded, announced as
//     payments.refunded, or voided.
//   - Declined, voided or refunded: nothing more to do but announce a
//     refund again.
//
// A charge handler that finds the record cancelling, voided or refunded
// leaves it to void.
func (f *function) void(ctx context.Context, ev contracts.OrderCancelledEvent) error {
	for range maxReloads {
		err := f.voidOnce(ctx, ev)
		if !errors.Is(err, errLost) {
			return err
		}
	}
	return runtime.RetryAfter(100*time.Millisecond, fmt.Errorf("void %s: too much contention: %w", ev.OrderID, runtime.ErrUnavailable))
}

func (f *function) voidOnce(ctx context.Context, ev contracts.OrderCancelledEvent) error {
	r, rev, err := f.load(ctx, ev.OrderID)
	if err != nil {
		return err
	}
	switch {
	case r == nil:
		if _, err := f.create(ctx, &record{OrderID: ev.OrderID, State: stateVoided}); err != nil {
			return err
		}
		f.logger.InfoContext(ctx, "payment voided before the charge", "order_id", ev.OrderID, "reason", ev.Reason)
		return nil
	case r.State == stateCharging || r.State == stateCompleted:
		r.State = stateCancelling
		if rev, err = f.update(ctx, r, rev); err != nil {
			return err
		}
		fallthrough
	case r.State == stateCancelling:
		return f.cancelPayment(ctx, r, rev)
	case r.State == stateRefunded:
		return f.announce(ctx, r)
	}
	return nil
}

// cancelPayment calls the gateway's Cancel for a cancelling record and
// records what it did: refunded (then announced) or voided. While the
// gateway fails, the message comes back when the breaker lets a call
// through.
func (f *function) cancelPayment(ctx context.Context, r *record, rev uint64) error {
	c, err := f.callCancel(ctx, r.OrderID)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return fmt.Errorf("cancel payment %s: %w", r.OrderID, err)
	default:
		return runtime.RetryAfter(f.breaker.wait(), runtime.Unavailable(err, "payment of order %s could not be called off", r.OrderID))
	}
	if c.Refunded {
		r.State, r.PaymentID, r.AmountCents = stateRefunded, c.PaymentID, c.AmountCents
	} else {
		r.State = stateVoided
	}
	if _, err := f.update(ctx, r, rev); err != nil {
		return err
	}
	if r.State == stateVoided {
		f.logger.InfoContext(ctx, "payment voided while it was under way", "order_id", r.OrderID)
		return nil
	}
	f.logger.InfoContext(ctx, "payment refunded: the order was cancelled while it was charged",
		"order_id", r.OrderID, "payment_id", r.PaymentID, "amount_cents", r.AmountCents)
	return f.announce(ctx, r)
}
