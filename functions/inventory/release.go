package inventory

import (
	"context"
	"time"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// releaseOnPaymentFailed handles payments.failed.
func (f *function) releaseOnPaymentFailed(ctx context.Context, ev contracts.PaymentFailedEvent) error {
	return f.release(ctx, ev.OrderID, contracts.CausePaymentFailed)
}

// releaseOnCancel handles orders.cancelled.
func (f *function) releaseOnCancel(ctx context.Context, ev contracts.OrderCancelledEvent) error {
	return f.release(ctx, ev.OrderID, contracts.CauseOrderCancelled)
}

// release puts back the stock of a reserved order, in one transaction with
// its reservation, and announces it once. A rejected or released order
// needs nothing. A cancel that comes before the reservation leaves a
// released tombstone, so that the late orders.created reserves nothing.
func (f *function) release(ctx context.Context, orderID string, cause contracts.ReleaseCause) error {
	var r *reservation
	announce := false
	err := f.bucket.Transact(ctx, func(tx *runtime.Tx[entry]) error {
		var err error
		r, announce, err = f.decideRelease(ctx, tx, orderID, cause)
		if err != nil {
			return err
		}
		return f.cfg.hooks.fire(pointStaged, orderID)
	})
	if err != nil || !announce {
		return err
	}
	if err := f.cfg.hooks.fire(pointCommitted, orderID); err != nil {
		return err
	}
	ev := contracts.InventoryReleasedEvent{OrderID: orderID, Items: r.items(), Cause: r.Cause}
	if err := runtime.Emit(ctx, contracts.InventoryReleased, ev, runtime.MsgID("inventory.released:"+orderID)); err != nil {
		return err
	}
	return f.cfg.hooks.fire(pointEmitted, orderID)
}

// decideRelease stages the release of the order's reservation, and reports
// whether inventory.released is due: when this cause released it (now, or
// on an earlier delivery whose emit may not have happened).
func (f *function) decideRelease(ctx context.Context, tx *runtime.Tx[entry], orderID string, cause contracts.ReleaseCause) (*reservation, bool, error) {
	key := reservationKey(orderID)
	e, ok, err := tx.Get(ctx, key)
	switch {
	case err != nil:
		return nil, false, err
	case !ok && cause == contracts.CauseOrderCancelled:
		r := &reservation{OrderID: orderID, State: stateReleased, Lines: []line{}, Cause: cause, UpdatedAt: time.Now().UTC()}
		return r, false, tx.Put(key, entry{Reservation: r})
	case !ok:
		return nil, false, nil
	}
	r, err := reservationOf(orderID, e)
	if err != nil {
		return nil, false, err
	}
	switch r.State {
	case stateReleased:
		return r, r.Cause == cause && len(r.Lines) > 0, nil
	case stateRejected:
		return r, false, nil
	}
	products, back := byProduct(r.items())
	if err := tx.Load(ctx, products...); err != nil {
		return nil, false, err
	}
	for _, p := range products {
		pe, ok, err := tx.Get(ctx, p)
		if err != nil {
			return nil, false, err
		}
		if !ok {
			// Someone deleted the product by hand: there is nothing to
			// put the units back into.
			f.logger.WarnContext(ctx, "release: product gone, units dropped", "order_id", orderID, "product_id", p, "quantity", back[p])
			continue
		}
		s, err := stockOf(p, pe)
		if err != nil {
			return nil, false, err
		}
		s.Quantity += back[p]
		if err := tx.Put(p, entry{Stock: &s}); err != nil {
			return nil, false, err
		}
	}
	released := *r
	released.State, released.Cause, released.UpdatedAt = stateReleased, cause, time.Now().UTC()
	return &released, true, tx.Put(key, entry{Reservation: &released})
}
