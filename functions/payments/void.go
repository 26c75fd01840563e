package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// void handles orders.cancelled: an order cancelled before its charge
// went through gets a voided record, so that no later delivery charges it.
// That covers a cancel before inventory.reserved (no record yet) and one
// while the charge waits out a gateway outage (record "charging": every
// delivery reloads the record before it calls the gateway). An order with
// a final payment keeps it.
func (f *function) void(ctx context.Context, ev contracts.OrderCancelledEvent) (runtime.None, error) {
	for range maxReloads {
		err := f.voidOnce(ctx, ev)
		if !errors.Is(err, errLost) {
			return runtime.None{}, err
		}
	}
	return runtime.None{}, runtime.RetryAfter(100*time.Millisecond, fmt.Errorf("void %s: too much contention: %w", ev.OrderID, runtime.ErrUnavailable))
}

func (f *function) voidOnce(ctx context.Context, ev contracts.OrderCancelledEvent) error {
	r, rev, err := f.load(ctx, ev.OrderID)
	if err != nil {
		return err
	}
	switch {
	case r == nil:
		_, err = f.create(ctx, &record{OrderID: ev.OrderID, State: stateVoided})
	case r.State == stateCharging:
		r.State = stateVoided
		err = f.update(ctx, r, rev)
	default:
		return nil
	}
	if err == nil {
		f.logger.InfoContext(ctx, "payment voided before the charge", "order_id", ev.OrderID, "reason", ev.Reason)
	}
	return err
}
