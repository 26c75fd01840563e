package kv

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
)

// ErrNoBucket means the bucket does not exist (yet): its owner has not
// started.
var ErrNoBucket = errors.New("kv: no such bucket")

// OpenExisting returns a bucket another function owns, to read it: it
// neither creates nor changes it, and needs only the permission to read
// its stream's info and get its messages. It fails with ErrNoBucket while
// the bucket does not exist.
func OpenExisting[T any](ctx context.Context, js jetstream.JetStream, bucket string, tr trace.Tracer) (*Bucket[T], error) {
	if !validBucket(bucket) {
		return nil, fmt.Errorf("kv: bucket name %q: want letters, digits, '-' and '_'", bucket)
	}
	st, err := js.Stream(ctx, "KV_"+bucket)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, fmt.Errorf("kv %s: %w", bucket, ErrNoBucket)
	}
	if err != nil {
		return nil, fmt.Errorf("kv %s: open: %w", bucket, err)
	}
	return &Bucket[T]{e: newEngine(js, st, Config{Bucket: bucket, Tracer: tr})}, nil
}
