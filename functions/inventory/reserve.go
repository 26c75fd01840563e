package inventory

import (
	"context"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// reserve handles orders.created: it takes every line of the order from
// stock, or none, and announces the outcome. A redelivery, or a second
// orders.created for the same order, resumes or re-announces what the
// reservation record says.
func (f *function) reserve(ctx context.Context, ev contracts.OrderCreatedEvent) error {
	t, err := f.open(ctx, ev.OrderID)
	if err != nil {
		return err
	}
	err = t.drive(ctx, func(ctx context.Context) error {
		if t.r == nil {
			t.r = newReservation(ev)
		}
		return t.advanceReserve(ctx)
	})
	if err != nil {
		return err
	}
	if err := f.cfg.hooks.fire(pointDecided, ev.OrderID, -1); err != nil {
		return err
	}
	return t.announceReserve(ctx)
}

// advanceReserve moves a reservation in progress to a stable state.
func (t *txn) advanceReserve(ctx context.Context) error {
	for {
		switch t.r.State {
		case stateReserving:
			if err := t.settle(ctx); err != nil {
				return err
			}
			if err := t.takeAll(ctx); err != nil {
				return err
			}
		case stateRejecting:
			if err := t.settle(ctx); err != nil {
				return err
			}
			if err := t.giveBackAll(ctx); err != nil {
				return err
			}
			t.r.State = stateRejected
		default:
			return nil
		}
		if err := t.save(ctx); err != nil {
			return err
		}
	}
}

// takeAll takes the lines not held yet; on the first line that cannot be
// taken it turns the reservation into a rejection.
func (t *txn) takeAll(ctx context.Context) error {
	for i := range t.r.Lines {
		if t.r.Lines[i].Held {
			continue
		}
		reason, err := t.take(ctx, i)
		if err != nil {
			return err
		}
		if reason != "" {
			t.r.Reason, t.r.ProductID = reason, t.r.Lines[i].ProductID
			t.r.State = stateRejecting
			if !t.r.held() {
				t.r.State = stateRejected
			}
			return nil
		}
	}
	t.r.State = stateReserved
	return nil
}

// giveBackAll puts back every line still held.
func (t *txn) giveBackAll(ctx context.Context) error {
	for i := range t.r.Lines {
		if !t.r.Lines[i].Held {
			continue
		}
		if err := t.giveBack(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

// announceReserve emits the outcome of a stable reservation. The Msg-Id
// is the order's, so every delivery of the order announces it once. A
// reservation released already (a cancel came first) announces nothing.
func (t *txn) announceReserve(ctx context.Context) error {
	switch t.r.State {
	case stateReserved:
		ev := contracts.InventoryReservedEvent{OrderID: t.orderID, Items: make([]contracts.ReservedItem, len(t.r.Lines))}
		for i, l := range t.r.Lines {
			ev.Items[i] = contracts.ReservedItem{ProductID: l.ProductID, Quantity: l.Quantity, UnitPriceCents: l.UnitPriceCents}
			ev.TotalCents += int64(l.Quantity) * l.UnitPriceCents
		}
		return runtime.Emit(ctx, contracts.InventoryReserved, ev, runtime.MsgID("inventory.reserved:"+t.orderID))
	case stateRejected:
		ev := contracts.InventoryRejectedEvent{OrderID: t.orderID, Reason: t.r.Reason, ProductID: t.r.ProductID}
		return runtime.Emit(ctx, contracts.InventoryRejected, ev, runtime.MsgID("inventory.rejected:"+t.orderID))
	}
	return nil
}
