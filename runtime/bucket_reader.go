package runtime

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/natsfn/natsfn/runtime/internal/kv"
)

// BucketReader reads a bucket another function owns, such as orders
// reading inventory's stock: it never creates or changes the bucket, and
// needs only the permission to read it. Get and GetLatest behave as a
// Bucket's do.
//
// Nothing is opened when an instance starts, so that a function does not
// depend on the owner's start: the bucket is opened on first use, per
// instance, and while it does not exist yet a read waits for it until ctx
// ends, then fails with ErrUnavailable.
type BucketReader[T any] struct {
	name string
}

// ReadBucket declares a reader of the bucket named name.
func ReadBucket[T any](name string) *BucketReader[T] {
	return &BucketReader[T]{name: name}
}

// Name returns the bucket's name.
func (b *BucketReader[T]) Name() string { return b.name }

// readerKey identifies an opened reader among an instance's.
type readerKey struct {
	name string
	typ  reflect.Type
}

// open returns the instance's handle of the bucket, opening it the first
// time, and waiting for it to exist until ctx ends.
func (b *BucketReader[T]) open(ctx context.Context) (*kv.Bucket[T], error) {
	r := runFrom(ctx)
	if r == nil {
		return nil, Permanent(fmt.Errorf("bucket %s: read outside a handler or OnStart hook: %w", b.name, ErrInternal))
	}
	key := readerKey{b.name, reflect.TypeFor[T]()}
	if v, ok := r.readers.Load(key); ok {
		return v.(*kv.Bucket[T]), nil
	}
	for wait := 25 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		kb, err := kv.OpenExisting[T](ctx, r.js, b.name, r.tracer)
		if err == nil {
			v, _ := r.readers.LoadOrStore(key, kb)
			return v.(*kv.Bucket[T]), nil
		}
		if !errors.Is(err, kv.ErrNoBucket) {
			return nil, bucketError(b.name, "", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, bucketError(b.name, "", err)
		case <-t.C:
		}
	}
}

// Get returns key's value and revision; see Bucket.Get.
func (b *BucketReader[T]) Get(ctx context.Context, key string) (T, uint64, error) {
	return readKey(ctx, b.name, key, b.open, (*kv.Bucket[T]).Get)
}

// GetLatest returns key's value and revision as of now; see
// Bucket.GetLatest.
func (b *BucketReader[T]) GetLatest(ctx context.Context, key string) (T, uint64, error) {
	return readKey(ctx, b.name, key, b.open, (*kv.Bucket[T]).GetLatest)
}
