// Package kvretry wraps a JetStream key-value bucket so that its reads and
// writes ride out a JetStream leader election: a call that fails for a
// reason that passes (no leader, no answer, a connection being
// re-established) is made again with jittered exponential backoff for as
// long as the caller's context allows.
//
// nats.go gives up after two retries 250 ms apart, and on "no responders"
// only, while an election on a 3-node cluster takes 4–9 s (issue 8.3), so
// a function's KV write would fail the request or the delivery mid-saga.
// The runtime's own retry policy (runtime/internal/retry) is internal to
// the runtime. The functions' state is the runtime's typed bucket
// (runtime.NewBucket), which retries itself; this small copy is left for
// payments' simulated gateway only, which stands for an external provider
// and keeps nats.go's KeyValue (it watches its settings, and tests call it
// outside any handler, where a runtime.Bucket cannot be used).
//
// A retried write is safe only for callers that treat "another writer came
// first" as a branch, since an attempt may land although its answer was
// lost: a retried Create then finds the key (ErrKeyExists). The simulated
// gateway reads the key again and finds its own answer, which it returns.
package kvretry

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Backoff schedule: the first wait is at most initial, each further one
// doubles up to maxWait; an attempt gets at most attemptTimeout, so a
// request lost with a dying connection is retried after that rather than
// at the deadline; without a deadline the loop stops after budget.
const (
	initial        = 20 * time.Millisecond
	maxWait        = 2 * time.Second
	attemptTimeout = 2 * time.Second
	budget         = 30 * time.Second
	minAttempt     = 10 * time.Millisecond
)

// JetStream error codes that pass although their HTTP-like code is below
// 500 (as runtime/internal/retry).
const (
	codeNoPeers         jetstream.ErrorCode = 10005
	codeMsgIDInProcess  jetstream.ErrorCode = 10158
	codeSubjectInFlight jetstream.ErrorCode = 10164
)

// Transient reports whether a KV call that failed with err may succeed if
// made again. A lost compare-and-swap, a missing key, a cancelled context
// or a permission violation are answers, not failures.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) ||
		errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) ||
		errors.Is(err, jetstream.ErrKeyNotFound) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrDisconnected) {
		return true
	}
	var api *jetstream.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode {
	case codeNoPeers, codeMsgIDInProcess, codeSubjectInFlight:
		return true
	}
	return api.Code >= 500 || api.Code == 429
}

// Do calls fn until it succeeds or fails for good, or until ctx ends or
// has too little time left for another attempt; it returns fn's last
// error.
func Do(ctx context.Context, fn func(context.Context) error) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, budget)
		defer cancel()
	}
	wait := initial
	for {
		err := try(ctx, fn)
		if err == nil || !Transient(err) || ctx.Err() != nil {
			return err
		}
		d := wait/2 + rand.N(wait/2+1) // jitter: writers that failed together retry apart
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d+minAttempt {
			return err
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
			// A timer that fired late, on a busy machine, may fire with
			// the deadline past: select then picks either case.
			if ctx.Err() != nil {
				return err
			}
		}
		wait = min(2*wait, maxWait)
	}
}

// try runs fn once, bounded by attemptTimeout.
func try(ctx context.Context, fn func(context.Context) error) error {
	actx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	return fn(actx)
}

// bucket is a KeyValue whose Get, Create, Update and Put are retried.
type bucket struct {
	jetstream.KeyValue
}

// Wrap returns kv with its Get, Create, Update and Put retried while they
// fail for a reason that passes; everything else is kv's own.
func Wrap(kv jetstream.KeyValue) jetstream.KeyValue { return bucket{KeyValue: kv} }

// Get reads key, retried.
func (b bucket) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	var e jetstream.KeyValueEntry
	err := Do(ctx, func(ctx context.Context) (err error) {
		e, err = b.KeyValue.Get(ctx, key)
		return err
	})
	return e, err
}

// Create stores value under key unless the key exists, retried.
func (b bucket) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	var rev uint64
	err := Do(ctx, func(ctx context.Context) (err error) {
		rev, err = b.KeyValue.Create(ctx, key, value, opts...)
		return err
	})
	return rev, err
}

// Update stores value under key at revision, retried.
func (b bucket) Update(ctx context.Context, key string, value []byte, revision uint64) (uint64, error) {
	var rev uint64
	err := Do(ctx, func(ctx context.Context) (err error) {
		rev, err = b.KeyValue.Update(ctx, key, value, revision)
		return err
	})
	return rev, err
}

// Put stores value under key, retried.
func (b bucket) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	var rev uint64
	err := Do(ctx, func(ctx context.Context) (err error) {
		rev, err = b.KeyValue.Put(ctx, key, value)
		return err
	})
	return rev, err
}
