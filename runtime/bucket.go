package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime/internal/kv"
)

// ErrWriteConflict means another writer came first: Create found the key
// holding a value, Update or Delete found it at another revision than the
// one given, or Modify and Transact lost every one of their attempts. Nothing
// was written. Read again and decide again; Modify and Transact do that
// for you.
//
// It wraps ErrUnavailable: a lost race that reaches the edge is a 503 for
// an endpoint and a retry for an event handler, whose next delivery reads
// the state again.
var ErrWriteConflict = fmt.Errorf("another writer came first: %w", ErrUnavailable)

// BucketConfig describes a key-value bucket a function owns.
type BucketConfig struct {
	// Name names the bucket (letters, digits, '-' and '_'); its stream is
	// KV_<Name>. Required.
	Name string
	// Description is shown by `nats kv info`.
	Description string
	// History is how many values a key keeps, 1 (the default) to 64.
	History uint8
	// TTL is how long a value lives; 0 keeps values until they are
	// replaced or deleted.
	TTL time.Duration
	// MaxBytes bounds the bucket's size; 0 leaves it unbounded.
	MaxBytes int64
}

// Bucket is a JetStream key-value bucket a function owns, holding values
// of type T as JSON. It is declared on the Service, as a stream is, and
// every instance creates it (or brings it in line with its config) when it
// starts, with NATSFN_REPLICAS copies in file storage, before the OnStart
// hooks declared after it and before any handler.
//
// Its methods take the context of a handler or an OnStart hook of its
// service, which leads them to the running instance's connection. Every
// write is conditioned on a revision, retried through leader elections
// and lost answers without ever applying twice, and traced as a
// "kv.<op> <bucket>" span under the handler's span. The errors returned
// wrap ErrNotFound (the key holds no value), ErrWriteConflict (another
// writer came first), ErrInvalid (a key that is not a valid KV key),
// ErrUnavailable (NATS did not answer in time), or ErrInternal marked
// Permanent (a stored value that does not decode as a T: no retry can fix
// it).
//
//	stock := runtime.NewBucket[Stock](svc, runtime.BucketConfig{Name: "stock"})
//	...
//	s, err := stock.Modify(ctx, sku, func(s *Stock, exists bool) error {
//		if s.Quantity < n {
//			return runtime.Errorf(runtime.ErrConflict, "only %d left", s.Quantity)
//		}
//		s.Quantity -= n
//		return nil
//	})
type Bucket[T any] struct {
	svc  *Service
	name string
	idx  int // the index of its opener
}

// NewBucket declares a bucket of svc. Declare it before the OnStart hooks
// that use it.
func NewBucket[T any](svc *Service, cfg BucketConfig) *Bucket[T] {
	b := &Bucket[T]{svc: svc, name: cfg.Name}
	b.idx = svc.addOpener(bucketOpener[T]{cfg: cfg})
	return b
}

// bucketOpener creates the bucket when an instance starts.
type bucketOpener[T any] struct{ cfg BucketConfig }

func (o bucketOpener[T]) open(ctx context.Context, r *serviceRun) (any, error) {
	cfg := kv.Config{
		Bucket:      o.cfg.Name,
		Description: o.cfg.Description,
		History:     o.cfg.History,
		TTL:         o.cfg.TTL,
		MaxBytes:    o.cfg.MaxBytes,
		Replicas:    r.cfg.Replicas,
		Storage:     jetstream.FileStorage,
		Tracer:      r.tracer,
	}
	b, err := kv.Open[T](ctx, r.js, cfg)
	if errors.Is(err, kv.ErrConfig) {
		return nil, fmt.Errorf("%w: bucket %q: %w", ErrConfigValidation, o.cfg.Name, err)
	}
	return b, err
}

// Name returns the bucket's name.
func (b *Bucket[T]) Name() string { return b.name }

// open finds the instance's bucket through ctx.
func (b *Bucket[T]) open(ctx context.Context) (*kv.Bucket[T], error) {
	r := runFrom(ctx)
	if r == nil || r.svc != b.svc || b.idx >= len(r.opened) {
		return nil, Permanent(fmt.Errorf("bucket %s: used outside a handler or OnStart hook of its service: %w", b.name, ErrInternal))
	}
	kb, ok := r.opened[b.idx].(*kv.Bucket[T])
	if !ok {
		return nil, Permanent(fmt.Errorf("bucket %s: used before it was opened (declare it before the OnStart hook): %w", b.name, ErrInternal))
	}
	return kb, nil
}

// Get returns key's value and revision. It may be answered by a replica a
// moment behind the last write; GetLatest reads as of now.
func (b *Bucket[T]) Get(ctx context.Context, key string) (T, uint64, error) {
	return readKey(ctx, b.name, key, b.open, (*kv.Bucket[T]).Get)
}

// GetLatest is Get as of now: on a replicated bucket it asks the stream
// leader, so it sees every write acknowledged before it was called. Use it
// before acting on ErrNotFound, or to read what another step just wrote.
func (b *Bucket[T]) GetLatest(ctx context.Context, key string) (T, uint64, error) {
	return readKey(ctx, b.name, key, b.open, (*kv.Bucket[T]).GetLatest)
}

// readKey is a read of key on the bucket open gives (a Bucket's or a
// BucketReader's), with the runtime's errors.
func readKey[T any](ctx context.Context, name, key string, open func(context.Context) (*kv.Bucket[T], error),
	read func(*kv.Bucket[T], context.Context, string) (T, uint64, error)) (T, uint64, error) {
	kb, err := open(ctx)
	if err != nil {
		var zero T
		return zero, 0, err
	}
	v, rev, err := read(kb, ctx, key)
	return v, rev, bucketError(name, key, err)
}

// Create stores v under key unless the key holds a value (ErrWriteConflict
// then), and returns the new revision. A deleted or expired key is free.
func (b *Bucket[T]) Create(ctx context.Context, key string, v T) (uint64, error) {
	kb, err := b.open(ctx)
	if err != nil {
		return 0, err
	}
	rev, err := kb.Create(ctx, key, v)
	return rev, bucketError(b.name, key, err)
}

// Update stores v under key if the key is still at revision rev (0: the
// key was never written), and returns the new revision; ErrWriteConflict
// when another write came since.
func (b *Bucket[T]) Update(ctx context.Context, key string, v T, rev uint64) (uint64, error) {
	kb, err := b.open(ctx)
	if err != nil {
		return 0, err
	}
	rev, err = kb.Update(ctx, key, v, rev)
	return rev, bucketError(b.name, key, err)
}

// Delete deletes key if it is still at revision rev; ErrWriteConflict when
// another write came since.
func (b *Bucket[T]) Delete(ctx context.Context, key string, rev uint64) error {
	kb, err := b.open(ctx)
	if err != nil {
		return err
	}
	return bucketError(b.name, key, kb.Delete(ctx, key, rev))
}

// Modify applies fn to key's value and stores the result at the revision
// it read; when another writer came first it reads and applies again, the
// first time at once and then after jittered, growing waits, up to 50
// attempts within ctx (ErrWriteConflict after). fn gets the zero T and
// exists false when the key holds no value, and the key is created then.
// fn may run several times, so it must depend only on what it is given.
// An error from fn is returned as it is, and nothing is written; so is
// nothing when fn leaves the value as it was. Modify returns the value
// stored and its revision.
func (b *Bucket[T]) Modify(ctx context.Context, key string, fn func(v *T, exists bool) error) (T, uint64, error) {
	kb, err := b.open(ctx)
	if err != nil {
		var zero T
		return zero, 0, err
	}
	var fnErr error
	v, rev, err := kb.Modify(ctx, key, func(v *T, exists bool) error {
		fnErr = fn(v, exists)
		return fnErr
	})
	if err != nil && err == fnErr {
		return v, rev, err
	}
	return v, rev, bucketError(b.name, key, err)
}

// bucketError classifies a failure of the engine for the error table: the
// engine's message, wrapped in the runtime's sentinel.
func bucketError(bucket, key string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kv.ErrConflict):
		return &kindError{err: err, kind: ErrWriteConflict}
	case errors.Is(err, kv.ErrNotFound):
		return &kindError{err: err, kind: ErrNotFound}
	case errors.Is(err, kv.ErrDecode):
		return Permanent(&kindError{err: err, kind: ErrInternal})
	case errors.Is(err, jetstream.ErrInvalidKey):
		return &kindError{err: err, kind: ErrInvalid}
	case errors.Is(err, kv.ErrNoBucket):
		return Unavailable(err, "bucket %s does not exist yet (has its owner started?)", bucket)
	case errors.Is(err, context.Canceled):
		return err
	}
	if key == "" {
		return Unavailable(err, "bucket %s could not be written", bucket)
	}
	return Unavailable(err, "key %s of bucket %s could not be read or written", key, bucket)
}
