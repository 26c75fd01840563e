package inventory

import (
	"context"
	"fmt"
	"time"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// busyRetry is how long a release waits for a reservation in progress.
const busyRetry = 250 * time.Millisecond

// releaseOnPaymentFailed handles payments.failed.
func (f *function) releaseOnPaymentFailed(ctx context.Context, ev contracts.PaymentFailedEvent) error {
	return f.release(ctx, ev.OrderID, contracts.CausePaymentFailed)
}

// releaseOnCancel handles orders.cancelled.
func (f *function) releaseOnCancel(ctx context.Context, ev contracts.OrderCancelledEvent) error {
	return f.release(ctx, ev.OrderID, contracts.CauseOrderCancelled)
}

// release puts back the stock of a reserved order and announces it once.
// A rejected or released order needs nothing. A cancel that comes before
// the reservation leaves a released tombstone, so that the late
// orders.created reserves nothing.
func (f *function) release(ctx context.Context, orderID string, cause contracts.ReleaseCause) error {
	t, err := f.open(ctx, orderID)
	if err != nil {
		return err
	}
	announce := false
	err = t.drive(ctx, func(ctx context.Context) error {
		var err error
		announce, err = t.advanceRelease(ctx, cause)
		return err
	})
	if err != nil || !announce {
		return err
	}
	if err := f.cfg.hooks.fire(pointDecided, orderID, -1); err != nil {
		return err
	}
	ev := contracts.InventoryReleasedEvent{OrderID: orderID, Items: t.r.items(), Cause: t.r.Cause}
	return runtime.Emit(ctx, contracts.InventoryReleased, ev, runtime.MsgID("inventory.released:"+orderID))
}

// advanceRelease moves the reservation to released when it holds stock,
// and reports whether inventory.released is due: when this cause released
// it (now, or on an earlier delivery whose emit may not have happened).
func (t *txn) advanceRelease(ctx context.Context, cause contracts.ReleaseCause) (bool, error) {
	for {
		if t.r == nil {
			if cause != contracts.CauseOrderCancelled {
				return false, nil
			}
			t.r = &reservation{OrderID: t.orderID, State: stateReleased, Lines: []line{}, Cause: cause}
			return false, t.save(ctx)
		}
		switch t.r.State {
		case stateReserving, stateRejecting:
			return false, runtime.RetryAfter(busyRetry, fmt.Errorf("release %s: reservation is %s: %w", t.orderID, t.r.State, runtime.ErrUnavailable))
		case stateReserved:
			t.r.State, t.r.Cause = stateReleasing, cause
		case stateReleasing:
			if err := t.settle(ctx); err != nil {
				return false, err
			}
			if err := t.giveBackAll(ctx); err != nil {
				return false, err
			}
			t.r.State = stateReleased
		case stateReleased:
			return t.r.Cause == cause && len(t.r.Lines) > 0, nil
		default: // rejected
			return false, nil
		}
		if err := t.save(ctx); err != nil {
			return false, err
		}
	}
}
