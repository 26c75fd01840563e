package orders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// store keeps the order views in the `orders` bucket, keyed by order id.
type store struct {
	b *runtime.Bucket[contracts.OrderView]
}

// load returns an order and its revision. A missing order wraps
// runtime.ErrNotFound.
//
// The first read may be answered by a replica a moment behind the last
// write: right after orders.create answered, a 3-replica cluster answered
// orders.get with a 404 (TestHealthyCluster/micro_discovery in
// tests/containers). So "not found" is read again from the stream leader
// (GetLatest) before it is answered; a found order costs one read as
// before.
func (s *store) load(ctx context.Context, id string) (contracts.OrderView, uint64, error) {
	v, rev, err := s.b.Get(ctx, id)
	if errors.Is(err, runtime.ErrNotFound) {
		v, rev, err = s.b.GetLatest(ctx, id)
	}
	if errors.Is(err, runtime.ErrNotFound) {
		return contracts.OrderView{}, 0, runtime.Errorf(runtime.ErrNotFound, "order %s", id)
	}
	if err != nil {
		return contracts.OrderView{}, 0, fmt.Errorf("read order %s: %w", id, err)
	}
	return normal(v), rev, nil
}

// normal gives a view an empty timeline rather than none.
func normal(v contracts.OrderView) contracts.OrderView {
	if v.Timeline == nil {
		v.Timeline = []contracts.TimelineEntry{}
	}
	return v
}

// add stores a new order unless one is stored under its id already, and
// reports whether it stored it.
func (s *store) add(ctx context.Context, v contracts.OrderView) (bool, error) {
	_, err := s.b.Create(ctx, v.OrderID, v)
	if errors.Is(err, runtime.ErrWriteConflict) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store order %s: %w", v.OrderID, err)
	}
	return true, nil
}

// update applies change to the order at the revision it read, and reads
// again and re-applies it when another writer got there first (the
// bucket's Modify). change reports whether it changed the view; when it
// did not, nothing is written. change must depend only on the view it is
// given: it may run several times. A missing order wraps
// runtime.ErrNotFound; Modify confirms a "not found" read on a replica
// with the stream leader before it returns it.
func (s *store) update(ctx context.Context, id string, change func(v *contracts.OrderView) bool) (contracts.OrderView, error) {
	v, _, err := s.b.Modify(ctx, id, func(v *contracts.OrderView, exists bool) error {
		if !exists {
			return runtime.Errorf(runtime.ErrNotFound, "order %s", id)
		}
		change(v) // unchanged, the view encodes as it was read: no write
		return nil
	})
	if err != nil {
		return contracts.OrderView{}, err
	}
	return normal(v), nil
}

// updateKnown is update for an order known to exist (the caller has just
// read or written it, or holds an event about it, which follows its
// orders.created): its write may not have landed yet, so "not found" is
// read again, with backoff, for about 5 s at most and never past ctx, and
// is then ErrUnavailable, never ErrNotFound, which would make an event
// handler dead-letter its message at once.
func (s *store) updateKnown(ctx context.Context, id string, change func(v *contracts.OrderView) bool) (contracts.OrderView, error) {
	for attempt := 3; attempt < maxKnownAttempts; attempt++ {
		v, err := s.update(ctx, id, change)
		if !errors.Is(err, runtime.ErrNotFound) {
			return v, err
		}
		if pause(ctx, attempt) != nil {
			break
		}
	}
	return contracts.OrderView{}, fmt.Errorf("order %s not found (yet): %w", id, runtime.ErrUnavailable)
}

// maxKnownAttempts bounds updateKnown: pause waits up to 20 ms, so about
// 5 s, longer than an event overtakes the write of its order unless the
// bucket is out.
const maxKnownAttempts = 250

// pause spaces out the reads of updateKnown: each waits a little longer
// than the one before, up to 20 ms.
func pause(ctx context.Context, attempt int) error {
	t := time.NewTimer(time.Duration(min(attempt, 20)) * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
