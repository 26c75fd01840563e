package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// maxReloads bounds how often one delivery reloads a record it lost.
const maxReloads = 10

// charge handles inventory.reserved: it records the payment as charging,
// charges the gateway, records the outcome and announces it. A record
// that exists already says what to do: announce its outcome again, charge
// again (the gateway is idempotent), or nothing: a cancelled order's
// payment (cancelling, voided, refunded) is void's.
func (f *function) charge(ctx context.Context, ev contracts.InventoryReservedEvent) error {
	for range maxReloads {
		err := f.chargeOnce(ctx, ev)
		if !errors.Is(err, errLost) {
			return err
		}
	}
	return runtime.RetryAfter(100*time.Millisecond, fmt.Errorf("charge %s: too much contention: %w", ev.OrderID, runtime.ErrUnavailable))
}

func (f *function) chargeOnce(ctx context.Context, ev contracts.InventoryReservedEvent) error {
	r, rev, err := f.load(ctx, ev.OrderID)
	if err != nil {
		return err
	}
	if r == nil {
		switch v, err := f.checkOrder(ctx, ev.OrderID); {
		case err != nil:
			return err
		case v == orderCancelled:
			return nil // never charged; void calls the payment off
		case v == orderUnknown:
			return f.declineUnknown(ctx, ev)
		}
		r = &record{OrderID: ev.OrderID, State: stateCharging, AmountCents: ev.TotalCents}
		if rev, err = f.create(ctx, r); err != nil {
			return err
		}
	}
	switch r.State {
	case stateCompleted, stateFailed:
		return f.announce(ctx, r)
	case stateCancelling, stateVoided, stateRefunded:
		return nil
	}
	id, err := f.callGateway(ctx, r)
	switch {
	case err == nil:
		r.State, r.PaymentID = stateCompleted, id
	case errors.Is(err, ErrDeclined):
		r.State, r.Reason = stateFailed, contracts.FailureDeclined
	case errors.Is(err, ErrCancelled):
		return nil // void called the payment off; the record is void's
	case ctx.Err() != nil:
		return fmt.Errorf("charge %s: %w", r.OrderID, err)
	default:
		return f.waitForGateway(ctx, r.OrderID, err)
	}
	if err := f.cfg.hooks.fire(pointCharged, r.OrderID); err != nil {
		return err
	}
	// errLost: another delivery recorded the outcome (the reload announces
	// it), or void took the record while the gateway charged (the reload
	// leaves it to void, whose Cancel refunds the charge).
	if _, err := f.update(ctx, r, rev); err != nil {
		return err
	}
	return f.announce(ctx, r)
}

// declineUnknown records the payment of an order the orders function does
// not know as failed, without calling the gateway, and announces it:
// payments.failed makes inventory give back the stock it reserved for the
// order. errLost when another delivery recorded the payment first (the
// reload announces it).
func (f *function) declineUnknown(ctx context.Context, ev contracts.InventoryReservedEvent) error {
	r := &record{OrderID: ev.OrderID, State: stateFailed, Reason: contracts.FailureDeclined, AmountCents: ev.TotalCents}
	if _, err := f.create(ctx, r); err != nil {
		return err
	}
	f.logger.WarnContext(ctx, "order unknown to orders: declined without a charge",
		"order_id", ev.OrderID, "amount_cents", ev.TotalCents, "waited", f.cfg.UnknownOrderWait)
	return f.announce(ctx, r)
}

// waitForGateway makes the order wait while the gateway fails: it pauses
// the charge consumer for every instance until the breaker lets a call
// through again (once per such period), and asks for this message back
// after the same delay. While a half-open breaker's trial call is under
// way, the message just comes back a little later.
func (f *function) waitForGateway(ctx context.Context, orderID string, cause error) error {
	err := runtime.Unavailable(cause, "order %s could not be charged", orderID)
	if errors.Is(cause, gobreaker.ErrTooManyRequests) {
		return runtime.RetryAfter(f.breaker.timeout/4, err)
	}
	d := f.breaker.wait()
	if f.breaker.claimPause(d) {
		if perr := runtime.Pause(ctx, d); perr != nil {
			f.logger.WarnContext(ctx, "could not pause the charge consumer", "error", perr)
		} else {
			f.breaker.paused.Add(1)
			f.meters.paused()
			f.logger.WarnContext(ctx, "payment gateway failing: charges paused", "for", d, "error", cause)
		}
	}
	return runtime.RetryAfter(d, err)
}

// announce emits a final payment's outcome, keyed by the order so that
// every delivery of the order announces it once.
func (f *function) announce(ctx context.Context, r *record) error {
	switch r.State {
	case stateCompleted:
		ev := contracts.PaymentCompletedEvent{OrderID: r.OrderID, PaymentID: r.PaymentID, AmountCents: r.AmountCents}
		return runtime.Emit(ctx, contracts.PaymentCompleted, ev, runtime.MsgID("payments.completed:"+r.OrderID))
	case stateFailed:
		ev := contracts.PaymentFailedEvent{OrderID: r.OrderID, Reason: r.Reason, AmountCents: r.AmountCents}
		return runtime.Emit(ctx, contracts.PaymentFailed, ev, runtime.MsgID("payments.failed:"+r.OrderID))
	case stateRefunded:
		ev := contracts.PaymentRefundedEvent{OrderID: r.OrderID, PaymentID: r.PaymentID, AmountCents: r.AmountCents}
		return runtime.Emit(ctx, contracts.PaymentRefunded, ev, runtime.MsgID("payments.refunded:"+r.OrderID))
	}
	return nil
}
