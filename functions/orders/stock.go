package orders

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// stockBucket is inventory's `stock` bucket, opened read-only on first use.
// Opening it lazily keeps orders from depending on inventory's start: the
// endpoints that do not need stock, and the projection, work before it.
type stockBucket struct {
	js     jetstream.JetStream
	logger *slog.Logger

	mu sync.Mutex
	kv jetstream.KeyValue
}

// open returns the bucket, waiting for inventory to create it until ctx
// ends. Concurrent callers each wait on their own context; the first to
// succeed caches the handle.
func (b *stockBucket) open(ctx context.Context) (jetstream.KeyValue, error) {
	b.mu.Lock()
	kv := b.kv
	b.mu.Unlock()
	if kv != nil {
		return kv, nil
	}
	kv, err := waitBucket(ctx, b.js, contracts.BucketStock)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	if b.kv == nil {
		b.kv = kv
		b.logger.InfoContext(ctx, "stock bucket opened")
	}
	kv = b.kv
	b.mu.Unlock()
	return kv, nil
}

// checkProducts reports the first item whose product inventory does not
// know (404), before anything is written for the order.
func (o *orders) checkProducts(ctx context.Context, items []contracts.OrderItem) error {
	wait, cancel := context.WithTimeout(ctx, o.cfg.StockWait)
	kv, err := o.stock.open(wait)
	cancel()
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(items))
	for _, it := range items {
		if seen[it.ProductID] {
			continue
		}
		seen[it.ProductID] = true
		_, err := kv.Get(ctx, it.ProductID)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			return runtime.Errorf(runtime.ErrNotFound, "unknown product %s", it.ProductID)
		case err != nil:
			return runtime.Unavailable(err, "stock of %s could not be read", it.ProductID)
		}
	}
	return nil
}
