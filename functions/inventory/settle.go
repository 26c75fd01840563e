package inventory

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime"
)

// settle resolves the reservation's pending intent, if any: it finds out
// whether the announced stock write landed and records the outcome in
// memory (the next save persists it).
func (t *txn) settle(ctx context.Context) error {
	p := t.r.Pending
	if p == nil {
		return nil
	}
	l := &t.r.Lines[p.Line]
	landed, rec, err := t.f.landed(ctx, l.ProductID, p.FromRev, opID(p.Kind, t.orderID, p.Line))
	if errors.Is(err, errForgotten) {
		// Err on the side of lost units, never oversold ones: a take is
		// done again, a return is not.
		landed = p.Kind == opReturn
		t.f.logger.WarnContext(ctx, "reservation: cannot tell whether a stock write landed; some units may be lost",
			"order_id", t.orderID, "product_id", l.ProductID, "op", p.Kind, "assumed_landed", landed)
	} else if err != nil {
		return err
	}
	if landed {
		l.Held = p.Kind == opTake
		if l.Held {
			l.UnitPriceCents = rec.PriceCents
		}
	}
	t.r.Pending = nil
	return nil
}

// errForgotten: the stock write after an intent's revision is no longer
// in the product's history.
var errForgotten = errors.New("stock history too short")

// landed reports whether the CAS of product at fromRev marked op took
// place, and the record it wrote. If the product is still at fromRev it
// fences the write first (the same record, written at fromRev), so that a
// worker still holding the intent can no longer land it.
func (f *function) landed(ctx context.Context, product string, fromRev uint64, op string) (bool, stockRecord, error) {
	for attempt := 0; ; attempt++ {
		rec, rev, err := f.readStock(ctx, product)
		if errors.Is(err, runtime.ErrNotFound) {
			return false, rec, nil
		}
		if err != nil {
			return false, rec, err
		}
		if rev > fromRev {
			return f.successor(ctx, product, fromRev, op)
		}
		if rev == fromRev {
			rec.Op = "fence:" + op
			_, err = f.stock.Update(ctx, product, rec.encode(), rev)
			if err == nil {
				return false, rec, nil
			}
			if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
				return false, rec, runtime.Unavailable(err, "stock of %s could not be fenced", product)
			}
		}
		// A write came first, or the read was served by a lagging replica.
		if err := backoff(ctx, attempt); err != nil {
			return false, rec, err
		}
	}
}

// successor looks for the write marked op among the product's revisions
// after fromRev. The CAS at fromRev can only have produced the revision
// right after it, and nothing can land at fromRev any more.
func (f *function) successor(ctx context.Context, product string, fromRev uint64, op string) (bool, stockRecord, error) {
	hist, err := f.stock.History(ctx, product)
	if err != nil {
		return false, stockRecord{}, runtime.Unavailable(err, "stock history of %s could not be read", product)
	}
	for _, e := range hist {
		if e.Revision() <= fromRev || e.Operation() != jetstream.KeyValuePut {
			continue
		}
		rec, err := decodeStock(product, e.Value())
		if err != nil {
			return false, rec, err
		}
		if rec.Op == op {
			return true, rec, nil
		}
	}
	if len(hist) == 0 || hist[0].Revision() > fromRev {
		return false, stockRecord{}, errForgotten
	}
	return false, stockRecord{}, nil
}
