// Package barekv is the hand-written compare-and-swap loop on
// jetstream.KeyValue that the benchmarks hold natsfn's buckets against
// (runtime.BenchmarkBucket, kv.BenchmarkModify and BenchmarkTransaction3):
// read, decode, increment, encode, write at the revision read, again on a
// lost race. It remembers its own last write of each key and skips the read
// next time, as Modify does, so that it stays the best loop, not the
// easiest.
package barekv

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// counter is the value the loop increments, {"n": N} on the wire, as the
// benchmarks' buckets store theirs.
type counter struct {
	N int `json:"n"`
}

// Memo is what the loop remembers of its own last write to each key. The
// zero Memo is ready; one Memo may serve many goroutines.
type Memo struct {
	mu sync.Mutex
	m  map[string]memoEntry
}

type memoEntry struct {
	v   counter
	rev uint64
}

func (m *Memo) get(key string) (counter, uint64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.m[key]
	return e.v, e.rev, ok
}

// set remembers v at rev after a write, or forgets key after a failed one.
func (m *Memo) set(key string, v counter, rev uint64, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string]memoEntry{}
	}
	if err != nil {
		delete(m.m, key)
		return
	}
	m.m[key] = memoEntry{v, rev}
}

// Modify increments key's counter with Create or Update at the revision
// read (or remembered in mem).
func Modify(ctx context.Context, kv jetstream.KeyValue, mem *Memo, key string) error {
	return loop(ctx, kv, mem, key, func(data []byte, rev uint64) (uint64, error) {
		if rev == 0 {
			return kv.Create(ctx, key, data)
		}
		return kv.Update(ctx, key, data, rev)
	})
}

// ModifyWithID is Modify with a Nats-Msg-Id on each write, the one thing
// natsfn's engine adds on the wire.
func ModifyWithID(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, mem *Memo, key string) error {
	return loop(ctx, kv, mem, key, func(data []byte, rev uint64) (uint64, error) {
		m := &nats.Msg{Subject: "$KV." + kv.Bucket() + "." + key, Data: data, Header: nats.Header{}}
		ack, err := js.PublishMsg(ctx, m, jetstream.WithMsgID(nuid.Next()), jetstream.WithExpectLastSequencePerSubject(rev))
		if err != nil {
			return 0, err
		}
		return ack.Sequence, nil
	})
}

// loop reads key (unless mem remembers its last write), increments it and
// writes it at the revision read, again, reading, while the write loses
// the race.
func loop(ctx context.Context, kv jetstream.KeyValue, mem *Memo, key string, write func(data []byte, rev uint64) (uint64, error)) error {
	for {
		v, rev, known := mem.get(key)
		if !known {
			e, err := kv.Get(ctx, key)
			switch {
			case err == nil:
				if err := json.Unmarshal(e.Value(), &v); err != nil {
					return err
				}
				rev = e.Revision()
			case !errors.Is(err, jetstream.ErrKeyNotFound):
				return err
			}
		}
		v.N++
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		next, err := write(data, rev)
		mem.set(key, v, next, err)
		// ErrKeyExists also matches a revision mismatch.
		if !errors.Is(err, jetstream.ErrKeyExists) {
			return err
		}
	}
}

// Run has workers goroutines call op until n calls are made in all, each
// with its worker's number and a context with a minute's deadline (one per
// worker, as handlers do not share theirs), and returns the first error.
func Run(op func(ctx context.Context, worker int) error, workers, n int) error {
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for next.Add(1) <= int64(n) {
				if err := op(ctx, w); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	err, _ := failed.Load().(error)
	return err
}
