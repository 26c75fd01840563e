package kv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Bucket is a JetStream key-value bucket of values of type T, stored as
// JSON. Every write is conditioned on a revision, retried through
// transient failures and traced; see the package doc. A Bucket is safe for
// concurrent use.
type Bucket[T any] struct {
	e *engine
}

// Name returns the bucket's name.
func (b *Bucket[T]) Name() string { return b.e.bucket }

// Get returns key's value and revision, or ErrNotFound. It reads through a
// direct get, which a replica may answer a moment behind the last write;
// use GetLatest to act on what it finds.
func (b *Bucket[T]) Get(ctx context.Context, key string) (T, uint64, error) {
	if err := b.e.checkKey(key); err != nil {
		var zero T
		return zero, 0, err
	}
	r, err := b.e.read(ctx, key)
	return b.value(key, r, err)
}

// GetLatest is Get as of now: on a replicated bucket it reads from the
// stream leader, so it sees every write acknowledged before it was called.
// Use it before acting on ErrNotFound (telling a caller an order does not
// exist) or to read a write another step just made.
func (b *Bucket[T]) GetLatest(ctx context.Context, key string) (T, uint64, error) {
	if err := b.e.checkKey(key); err != nil {
		var zero T
		return zero, 0, err
	}
	r, err := b.e.fresh(ctx, key)
	return b.value(key, r, err)
}

// value decodes a read record.
func (b *Bucket[T]) value(key string, r record, err error) (T, uint64, error) {
	var v T
	switch {
	case err != nil:
		return v, 0, err
	case !r.live:
		return v, 0, fmt.Errorf("kv %s/%s: %w", b.e.bucket, key, ErrNotFound)
	}
	if err := json.Unmarshal(r.data, &v); err != nil {
		return v, 0, decodeError(b.e.bucket, key, r.rev, err)
	}
	return v, r.rev, nil
}

// encode marshals a value of the bucket.
func (b *Bucket[T]) encode(key string, v T) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("kv %s/%s: encode: %w", b.e.bucket, key, err)
	}
	return data, nil
}

// Create stores v under key unless the key holds a value, and returns the
// new revision; ErrConflict when it holds one. A deleted, purged or
// expired key counts as free.
func (b *Bucket[T]) Create(ctx context.Context, key string, v T) (uint64, error) {
	if err := b.e.checkKey(key); err != nil {
		return 0, err
	}
	data, err := b.encode(key, v)
	if err != nil {
		return 0, err
	}
	rev, err := b.e.create(ctx, key, data)
	b.e.remember(key, rev, data, err)
	return rev, err
}

// remember notes what a write of data to key left there, or forgets the
// key when the write failed.
func (e *engine) remember(key string, rev uint64, data []byte, err error) {
	if err != nil {
		e.recent.forget(key)
		return
	}
	e.recent.put(key, rev, data)
}

// create writes data under key if it holds no value. The first attempt
// assumes the key never existed; if it has a message, it is read, and a
// tombstone is written over at its revision.
func (e *engine) create(ctx context.Context, key string, data []byte) (uint64, error) {
	span := e.trace.start(ctx, opCreate, attrKey.String(key))
	rev, attempts, err := e.write(ctx, change{key: key, data: data})
	if errors.Is(err, ErrConflict) {
		var r record
		if r, err = e.fresh(ctx, key); err == nil {
			err = fmt.Errorf("kv %s/%s: create: the key holds revision %d: %w", e.bucket, key, r.rev, ErrConflict)
			if !r.live {
				var n int
				rev, n, err = e.write(ctx, change{key: key, data: data, at: r.rev})
				attempts += n
				if errors.Is(err, ErrConflict) {
					err = fmt.Errorf("kv %s/%s: create: the key changed after revision %d: %w", e.bucket, key, r.rev, ErrConflict)
				}
			}
		}
	}
	e.trace.end(span, opCreate, rev, attempts, err)
	return rev, e.wrap(key, "create", err)
}

// Update stores v under key if the key is at revision rev, and returns the
// new revision; ErrConflict when another write came since. Revision 0
// means the key has never been written.
func (b *Bucket[T]) Update(ctx context.Context, key string, v T, rev uint64) (uint64, error) {
	if err := b.e.checkKey(key); err != nil {
		return 0, err
	}
	data, err := b.encode(key, v)
	if err != nil {
		return 0, err
	}
	rev, err = b.e.put(ctx, opUpdate, change{key: key, data: data, at: rev})
	b.e.remember(key, rev, data, err)
	return rev, err
}

// Delete deletes key if it is at revision rev; ErrConflict when another
// write came since. The key keeps a tombstone, and Get reports ErrNotFound.
func (b *Bucket[T]) Delete(ctx context.Context, key string, rev uint64) error {
	if err := b.e.checkKey(key); err != nil {
		return err
	}
	b.e.recent.forget(key)
	_, err := b.e.put(ctx, opDelete, change{key: key, del: true, at: rev})
	return err
}

// put makes one traced conditional write.
func (e *engine) put(ctx context.Context, o op, c change) (uint64, error) {
	span := e.trace.start(ctx, o, attrKey.String(c.key), attrExpected.Int64(int64(c.at)))
	rev, attempts, err := e.write(ctx, c)
	if errors.Is(err, ErrConflict) {
		err = fmt.Errorf("kv %s/%s: %s: the key is no longer at revision %d: %w", e.bucket, c.key, opNames[o], c.at, ErrConflict)
	}
	e.trace.end(span, o, rev, attempts, err)
	return rev, e.wrap(c.key, opNames[o], err)
}

// wrap names the bucket, key and operation in a failure other than a
// conflict (those say it already).
func (e *engine) wrap(key, what string, err error) error {
	if err == nil || errors.Is(err, ErrConflict) {
		return err
	}
	return fmt.Errorf("kv %s/%s: %s: %w", e.bucket, key, what, err)
}

// Modify applies fn to key's value and stores the result at the revision
// it read, reading and applying again when another writer came first:
// the usual compare-and-swap loop, bounded. fn gets the current value (the
// zero T and exists false when the key holds none) and may run several
// times, so it must depend only on what it is given. An error from fn is
// returned as is and nothing is written; when fn leaves the value as it
// was (the same JSON), nothing is written either. A key that holds no value
// is created with what fn leaves.
//
// Modify reads as Get does, and again from the stream leader after a lost
// race, or before it keeps a decision not to write that fn made on a
// replica's read: neither a write nor a refusal rests on a stale replica.
// It returns the value stored and its revision. The first retry of a lost
// race goes at once (the winner has written: the leader has the news);
// later ones wait a jittered time that grows with each, up to 50 attempts
// or ctx's end, after which the error wraps ErrConflict.
func (b *Bucket[T]) Modify(ctx context.Context, key string, fn func(v *T, exists bool) error) (T, uint64, error) {
	var zero T
	e := b.e
	if err := e.checkKey(key); err != nil {
		return zero, 0, err
	}
	latest := e.replicas == 1 // whether reads are as of now
	r, remembered := e.recent.get(key)
	for attempt := 1; ; attempt++ {
		var err error
		switch {
		case remembered:
		case latest:
			r, err = e.fresh(ctx, key)
		default:
			r, err = e.read(ctx, key)
		}
		if err != nil {
			return zero, 0, err
		}
		var v T
		if r.live {
			if err := json.Unmarshal(r.data, &v); err != nil {
				e.recent.forget(key)
				return zero, 0, decodeError(e.bucket, key, r.rev, err)
			}
		}
		data, ferr := b.apply(key, fn, &v, r.live)
		if ferr != nil || r.live && bytes.Equal(data, r.data) {
			if !latest || remembered {
				// A decision not to write, on a replica's read or on what
				// this instance remembered: keep it only if the leader
				// has nothing newer.
				lr, err := e.fresh(ctx, key)
				if err != nil {
					return zero, 0, err
				}
				if lr.rev != r.rev {
					e.recent.forget(key)
					latest, remembered = true, false
					continue
				}
			}
			if ferr != nil {
				return zero, 0, ferr
			}
			return v, r.rev, nil
		}
		o := opUpdate
		if !r.live {
			o = opCreate
		}
		rev, err := e.put(ctx, o, change{key: key, data: data, at: r.rev})
		e.remember(key, rev, data, err)
		if err == nil {
			return v, rev, nil
		}
		if !errors.Is(err, ErrConflict) {
			return zero, 0, err
		}
		if remembered {
			// Only what this instance remembered was stale: read, and
			// count this as no attempt.
			latest, remembered = true, false
			attempt--
			continue
		}
		if attempt == maxConflicts || attempt > 1 && e.conflicts.Pause(ctx, attempt-1) != nil {
			return zero, 0, fmt.Errorf("kv %s/%s: modify: still contended after %d attempts: %w", e.bucket, key, attempt, ErrConflict)
		}
		latest = true
	}
}

// apply runs fn on v and encodes the result.
func (b *Bucket[T]) apply(key string, fn func(v *T, exists bool) error, v *T, exists bool) ([]byte, error) {
	if err := fn(v, exists); err != nil {
		return nil, err
	}
	return b.encode(key, *v)
}
