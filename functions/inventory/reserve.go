package inventory

import (
	"context"
	"time"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// reserve handles orders.created: in one transaction it takes the stock of
// every line and records the reservation, or records the rejection; then
// it announces the outcome. A redelivery, or a second orders.created for
// the same order, finds the reservation and announces it again, which the
// Msg-Id makes one event.
func (f *function) reserve(ctx context.Context, ev contracts.OrderCreatedEvent) error {
	var r *reservation
	err := f.bucket.Transact(ctx, func(tx *runtime.Tx[entry]) error {
		var err error
		r, err = f.decideReserve(ctx, tx, ev)
		if err != nil {
			return err
		}
		return f.cfg.hooks.fire(pointStaged, ev.OrderID)
	})
	if err != nil {
		return err
	}
	if err := f.cfg.hooks.fire(pointCommitted, ev.OrderID); err != nil {
		return err
	}
	if err := announceReserve(ctx, r); err != nil {
		return err
	}
	return f.cfg.hooks.fire(pointEmitted, ev.OrderID)
}

// decideReserve reads the order's reservation and the stock of its
// products, all in one state of the bucket, and stages what the order
// does: nothing when it has a reservation already (a redelivery, or a
// cancel came first), else the stock of every line taken with the
// reservation, or the rejection.
func (f *function) decideReserve(ctx context.Context, tx *runtime.Tx[entry], ev contracts.OrderCreatedEvent) (*reservation, error) {
	key := reservationKey(ev.OrderID)
	products, want := byProduct(ev.Items)
	if err := tx.Load(ctx, append([]string{key}, products...)...); err != nil {
		return nil, err
	}
	if e, ok, err := tx.Get(ctx, key); err != nil || ok {
		if err != nil {
			return nil, err
		}
		return reservationOf(ev.OrderID, e)
	}
	r := &reservation{OrderID: ev.OrderID, State: stateReserved, Lines: make([]line, len(ev.Items)), UpdatedAt: time.Now().UTC()}
	left := make(map[string]stock, len(products))
	for _, p := range products {
		e, ok, err := tx.Get(ctx, p)
		if err != nil {
			return nil, err
		}
		if !ok {
			return r.reject(tx, contracts.ReasonUnknownProduct, p)
		}
		s, err := stockOf(p, e)
		if err != nil {
			return nil, err
		}
		if s.Quantity < want[p] {
			// Decided on the stock as read, which the commit does not
			// check: writing the product back unchanged would make it,
			// but would also make every rejection a two-key batch and a
			// new revision of a hot product that the reservations in
			// flight would lose on. On one replica the read was current;
			// on three, a lagging replica may reject an order just after
			// a restock, never oversell.
			return r.reject(tx, contracts.ReasonOutOfStock, p)
		}
		s.Quantity -= want[p]
		left[p] = s
	}
	for i, it := range ev.Items {
		r.Lines[i] = line{ProductID: it.ProductID, Quantity: it.Quantity, UnitPriceCents: left[it.ProductID].PriceCents}
	}
	for _, p := range products {
		s := left[p]
		if err := tx.Put(p, entry{Stock: &s}); err != nil {
			return nil, err
		}
	}
	return r, tx.Put(key, entry{Reservation: r})
}

// reject turns r into a rejection and stages it.
func (r *reservation) reject(tx *runtime.Tx[entry], reason contracts.Reason, product string) (*reservation, error) {
	r.State, r.Reason, r.ProductID = stateRejected, reason, product
	for i := range r.Lines {
		r.Lines[i].UnitPriceCents = 0
	}
	return r, tx.Put(reservationKey(r.OrderID), entry{Reservation: r})
}

// announceReserve emits the outcome of a reservation. The Msg-Id is the
// order's, so every delivery of the order announces it once. A
// reservation released already (a cancel came first) announces nothing.
func announceReserve(ctx context.Context, r *reservation) error {
	switch r.State {
	case stateReserved:
		ev := contracts.InventoryReservedEvent{OrderID: r.OrderID, Items: make([]contracts.ReservedItem, len(r.Lines))}
		for i, l := range r.Lines {
			ev.Items[i] = contracts.ReservedItem{ProductID: l.ProductID, Quantity: l.Quantity, UnitPriceCents: l.UnitPriceCents}
			ev.TotalCents += int64(l.Quantity) * l.UnitPriceCents
		}
		return runtime.Emit(ctx, contracts.InventoryReserved, ev, runtime.MsgID("inventory.reserved:"+r.OrderID))
	case stateRejected:
		ev := contracts.InventoryRejectedEvent{OrderID: r.OrderID, Reason: r.Reason, ProductID: r.ProductID}
		return runtime.Emit(ctx, contracts.InventoryRejected, ev, runtime.MsgID("inventory.rejected:"+r.OrderID))
	}
	return nil
}
