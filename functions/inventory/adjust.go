package inventory

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// take deducts line i from stock: it announces the write in the
// reservation, then CASes the product at the revision it read. It returns
// the reason when the line cannot be taken (unknown product, too little
// stock); nothing was written then.
func (t *txn) take(ctx context.Context, i int) (contracts.Reason, error) {
	l := &t.r.Lines[i]
	op := opID(opTake, t.orderID, i)
	for attempt := 0; ; attempt++ {
		rec, rev, err := t.f.readStock(ctx, l.ProductID)
		if errors.Is(err, runtime.ErrNotFound) {
			return contracts.ReasonUnknownProduct, nil
		}
		if err != nil {
			return "", err
		}
		if rec.Quantity < l.Quantity {
			return contracts.ReasonOutOfStock, nil
		}
		landed, err := t.cas(ctx, i, opTake, rec, rev, rec.Quantity-l.Quantity, op)
		if err != nil {
			return "", err
		}
		if landed {
			l.Held, l.UnitPriceCents = true, rec.PriceCents
			return "", nil
		}
		if err := backoff(ctx, attempt); err != nil {
			return "", err
		}
	}
}

// giveBack puts line i back into stock, the same way.
func (t *txn) giveBack(ctx context.Context, i int) error {
	l := &t.r.Lines[i]
	op := opID(opReturn, t.orderID, i)
	for attempt := 0; ; attempt++ {
		rec, rev, err := t.f.readStock(ctx, l.ProductID)
		if errors.Is(err, runtime.ErrNotFound) {
			// Someone deleted the product by hand: there is nothing to
			// put the units back into.
			t.f.logger.WarnContext(ctx, "release: product gone, units dropped", "order_id", t.orderID, "product_id", l.ProductID, "quantity", l.Quantity)
			l.Held = false
			return nil
		}
		if err != nil {
			return err
		}
		landed, err := t.cas(ctx, i, opReturn, rec, rev, rec.Quantity+l.Quantity, op)
		if err != nil {
			return err
		}
		if landed {
			l.Held = false
			return nil
		}
		if err := backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// cas saves the intent, then writes the product's new quantity at rev. It
// reports false when another write came first: the intent is void then,
// and dropped (a saved copy settles as "not landed").
func (t *txn) cas(ctx context.Context, i int, kind opKind, rec stockRecord, rev uint64, quantity int, op string) (bool, error) {
	t.r.Pending = &intent{Line: i, Kind: kind, FromRev: rev}
	if err := t.save(ctx); err != nil {
		return false, err
	}
	if err := t.f.cfg.hooks.fire(pointIntent, t.orderID, i); err != nil {
		return false, err
	}
	rec.Quantity, rec.Op = quantity, op
	_, err := t.f.stock.Update(ctx, t.r.Lines[i].ProductID, rec.encode(), rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		t.r.Pending = nil
		return false, nil
	}
	if err != nil {
		// The write may have landed: the saved intent settles it later.
		return false, runtime.Unavailable(err, "stock of %s could not be written", t.r.Lines[i].ProductID)
	}
	if err := t.f.cfg.hooks.fire(pointLanded, t.orderID, i); err != nil {
		return false, err
	}
	t.r.Pending = nil
	return true, nil
}

// backoff sleeps a little, at random, after a lost CAS, so that many
// workers on one hot product do not retry in lockstep.
func backoff(ctx context.Context, attempt int) error {
	ceiling := time.Millisecond << min(attempt, 5)
	select {
	case <-ctx.Done():
		return fmt.Errorf("stock contention: %w", ctx.Err())
	case <-time.After(rand.N(ceiling) + time.Millisecond):
		return nil
	}
}
