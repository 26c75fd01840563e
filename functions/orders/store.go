package orders

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// maxUpdateAttempts bounds the compare-and-swap retries of one update. A
// few concurrent writers of one order need a handful; running out means
// something is badly wrong, and the caller retries later.
const maxUpdateAttempts = 50

// store keeps the order views in the `orders` bucket, keyed by order id.
type store struct {
	kv jetstream.KeyValue
}

// load returns an order and its revision. A missing order wraps
// runtime.ErrNotFound.
func (s *store) load(ctx context.Context, id string) (contracts.OrderView, uint64, error) {
	entry, err := s.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return contracts.OrderView{}, 0, runtime.Errorf(runtime.ErrNotFound, "order %s", id)
	}
	if err != nil {
		return contracts.OrderView{}, 0, runtime.Unavailable(err, "order %s could not be read", id)
	}
	var v contracts.OrderView
	if err := json.Unmarshal(entry.Value(), &v); err != nil {
		return contracts.OrderView{}, 0, fmt.Errorf("decode order %s: %v: %w", id, err, runtime.ErrInternal)
	}
	if v.Timeline == nil {
		v.Timeline = []contracts.TimelineEntry{}
	}
	return v, entry.Revision(), nil
}

// create stores a new order. When the id is taken already (a retried
// create resuming after its Idempotency-Key claim), it returns the stored
// order instead.
func (s *store) create(ctx context.Context, v contracts.OrderView) (contracts.OrderView, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return v, fmt.Errorf("encode order %s: %v: %w", v.OrderID, err, runtime.ErrInternal)
	}
	_, err = s.kv.Create(ctx, v.OrderID, data)
	if errors.Is(err, jetstream.ErrKeyExists) {
		stored, _, err := s.load(ctx, v.OrderID)
		return stored, err
	}
	if err != nil {
		return v, runtime.Unavailable(err, "order %s could not be stored", v.OrderID)
	}
	return v, nil
}

// update applies change to the order at the revision it read, and reads
// again and re-applies it when another writer got there first. change
// reports whether it changed the view; when it did not, nothing is written.
// change must depend only on the view it is given: it may run several times.
func (s *store) update(ctx context.Context, id string, change func(v *contracts.OrderView) bool) (contracts.OrderView, error) {
	for attempt := range maxUpdateAttempts {
		if err := pause(ctx, attempt); err != nil {
			return contracts.OrderView{}, fmt.Errorf("update order %s: %w", id, err)
		}
		v, rev, err := s.load(ctx, id)
		if err != nil {
			return v, err
		}
		if !change(&v) {
			return v, nil
		}
		data, err := json.Marshal(v)
		if err != nil {
			return v, fmt.Errorf("encode order %s: %v: %w", id, err, runtime.ErrInternal)
		}
		_, err = s.kv.Update(ctx, id, data, rev)
		if err == nil {
			return v, nil
		}
		if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return v, runtime.Unavailable(err, "order %s could not be updated", id)
		}
	}
	return contracts.OrderView{}, fmt.Errorf("update order %s: still contended after %d attempts: %w", id, maxUpdateAttempts, runtime.ErrUnavailable)
}

// pause spaces out compare-and-swap retries: the first few go at once, the
// later ones wait a little longer each time, so that a read served by a
// replica that lags behind the last write gets the time to catch up.
func pause(ctx context.Context, attempt int) error {
	if attempt < 3 {
		return nil
	}
	t := time.NewTimer(time.Duration(min(attempt, 20)) * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
