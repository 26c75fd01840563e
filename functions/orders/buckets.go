package orders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// IdempotencyTTL is how long an Idempotency-Key is remembered. A retry
// after that places a new order, as with most payment APIs.
const IdempotencyTTL = 24 * time.Hour

// createBuckets creates (or updates) the buckets the function owns.
func createBuckets(ctx context.Context, js jetstream.JetStream, replicas int) (ordersKV, idemKV jetstream.KeyValue, err error) {
	ordersKV, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      contracts.BucketOrders,
		Description: "natsfn order views, keyed by order id",
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("bucket %s: %w", contracts.BucketOrders, err)
	}
	idemKV, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      contracts.BucketIdempotency,
		Description: "natsfn orders.create Idempotency-Key claims, keyed by sha256 of the key",
		TTL:         IdempotencyTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("bucket %s: %w", contracts.BucketIdempotency, err)
	}
	return ordersKV, idemKV, nil
}

// waitBucket opens a bucket another function owns, retrying with backoff
// until it exists or ctx ends; the wait ends in ErrUnavailable.
func waitBucket(ctx context.Context, js jetstream.JetStream, bucket string) (jetstream.KeyValue, error) {
	for wait := 25 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		kv, err := js.KeyValue(ctx, bucket)
		if err == nil {
			return kv, nil
		}
		if !errors.Is(err, jetstream.ErrBucketNotFound) {
			return nil, runtime.Unavailable(err, "bucket %s could not be opened", bucket)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("bucket %s does not exist yet (is inventory running?): %w", bucket, runtime.ErrUnavailable)
		case <-t.C:
		}
	}
}
