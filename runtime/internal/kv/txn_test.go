package kv_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/natsfn/natsfn/runtime/fntest"
	"github.com/natsfn/natsfn/runtime/internal/kv"
)

func TestTxCommitsAllKeys(t *testing.T) {
	js := connect(t, newSingle(t).url(), nil)
	ctx := bg(t)
	b := open[item](t, js, kv.Config{Bucket: "tx"})
	ra, _ := b.Create(ctx, "a", item{N: 1})
	if _, err := b.Create(ctx, "gone", item{N: 9}); err != nil {
		t.Fatal(err)
	}
	// A deleted key: a transaction creates it over its tombstone.
	_, rd, _ := b.Get(ctx, "gone")
	if err := b.Delete(ctx, "gone", rd); err != nil {
		t.Fatal(err)
	}

	tx := b.Begin()
	if err := tx.Load(ctx, "a", "b", "gone"); err != nil {
		t.Fatal(err)
	}
	a, ok, err := tx.Get(ctx, "a")
	if err != nil || !ok || a.N != 1 {
		t.Fatalf("tx.Get(a) = %+v %v %v", a, ok, err)
	}
	if _, ok, _ := tx.Get(ctx, "b"); ok {
		t.Fatal("b exists before it is created")
	}
	if err := errors.Join(tx.Put("a", item{N: 2}), tx.Put("b", item{N: 3}), tx.Put("gone", item{N: 4})); err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := tx.Get(ctx, "b"); !ok || v.N != 3 {
		t.Errorf("tx.Get does not see the staged b: %+v %v", v, ok)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatalf("commit: %v", err)
	}
	if err := tx.Commit(ctx); err == nil {
		t.Error("a second Commit succeeded")
	}
	for key, want := range map[string]int{"a": 2, "b": 3, "gone": 4} {
		if v, rev, err := b.Get(ctx, key); err != nil || v.N != want || rev <= ra {
			t.Errorf("%s = %+v at %d, %v; want n=%d", key, v, rev, err, want)
		}
	}

	// Deletes commit too; deleting a key that holds nothing stages nothing.
	tx = b.Begin()
	if err := tx.Load(ctx, "a", "b", "never"); err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(tx.Delete("a"), tx.Put("b", item{N: 30}), tx.Delete("never")); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Get(ctx, "a"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("a after its delete: %v", err)
	}
	if h := history(t, js, "tx", "never"); len(h) != 0 {
		t.Errorf("deleting an absent key wrote %d messages", len(h))
	}
}

func TestTxRules(t *testing.T) {
	js := connect(t, newSingle(t).url(), nil)
	ctx := bg(t)
	b := open[item](t, js, kv.Config{Bucket: "rules"})
	tx := b.Begin()
	if err := tx.Put("unread", item{}); err == nil {
		t.Error("Put of a key the transaction has not read succeeded")
	}
	if err := tx.Delete("unread"); err == nil {
		t.Error("Delete of a key the transaction has not read succeeded")
	}
	if err := tx.Load(ctx, "ok", "bad key"); err == nil {
		t.Error("Load of an invalid key succeeded")
	}
	if err := tx.Commit(ctx); err != nil {
		t.Errorf("an empty commit: %v", err)
	}
	if err := tx.Load(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Put("x", item{}); err == nil {
		t.Error("Put after Commit succeeded")
	}
}

// TestTxLosesOnOneKeyWritesNone: one key of three changed since the
// transaction read it, and the commit writes none of them.
func TestTxLosesOnOneKeyWritesNone(t *testing.T) {
	js := connect(t, newSingle(t).url(), nil)
	ctx := bg(t)
	b := open[item](t, js, kv.Config{Bucket: "lose", History: 10})
	for _, k := range []string{"a", "b"} {
		if _, err := b.Create(ctx, k, item{N: 1}); err != nil {
			t.Fatal(err)
		}
	}
	for name, interfere := range map[string]func(){
		"updated": func() {
			_, rev, _ := b.Get(ctx, "b")
			if _, err := b.Update(ctx, "b", item{N: 100}, rev); err != nil {
				t.Fatal(err)
			}
		},
		"created": func() {
			if _, err := b.Create(ctx, "c", item{N: 100}); err != nil {
				t.Fatal(err)
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			tx := b.Begin()
			if err := tx.Load(ctx, "a", "b", "c"); err != nil {
				t.Fatal(err)
			}
			before := map[string]int{}
			for _, k := range []string{"a", "b", "c"} {
				before[k] = len(history(t, js, "lose", k))
			}
			interfere()
			for _, k := range []string{"a", "b", "c"} {
				if err := tx.Put(k, item{N: 42}); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(ctx); !errors.Is(err, kv.ErrConflict) {
				t.Fatalf("commit: %v, want ErrConflict", err)
			}
			for _, k := range []string{"a", "b", "c"} {
				if v, _, _ := b.Get(ctx, k); v.N == 42 {
					t.Errorf("%s was written by the losing transaction", k)
				}
			}
			if after := len(history(t, js, "lose", "a")); after != before["a"] {
				t.Errorf("a has %d revisions, had %d", after, before["a"])
			}
		})
	}
}

// TestTransactConservesTotal runs concurrent transactions that move units
// between overlapping keys. Every transaction reads all the keys in one
// Load and checks the total: a half-applied transfer would show. At the
// end the total is the same, and each key holds what the committed
// transfers say.
func TestTransactConservesTotal(t *testing.T) {
	js := connect(t, newSingle(t).url(), nil)
	// A file bucket's commits are staged in a store the server fsyncs
	// (7 to 20 ms each here), so it gets fewer transfers.
	for _, c := range []struct {
		storage            jetstream.StorageType
		workers, transfers int
	}{{jetstream.FileStorage, 4, 6}, {jetstream.MemoryStorage, 6, 12}} {
		t.Run(c.storage.String(), func(t *testing.T) {
			b := open[item](t, js, kv.Config{Bucket: "bank-" + c.storage.String(), Storage: c.storage})
			conserve(t, b, c.workers, c.transfers)
		})
	}
}

func conserve(t *testing.T, b *kv.Bucket[item], workers, transfers int) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const keys, start = 5, 100
	names := make([]string, keys)
	for i := range names {
		names[i] = fmt.Sprintf("acct-%d", i)
		if _, err := b.Create(ctx, names[i], item{N: start}); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	moved := make(map[string]int) // net effect of committed transfers
	var halfSeen, runs atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			for range transfers {
				from, to := rng.IntN(keys), rng.IntN(keys-1)
				if to >= from {
					to++
				}
				amount := 1 + rng.IntN(20)
				var took int
				err := b.Transact(ctx, func(tx *kv.Tx[item]) error {
					runs.Add(1)
					if err := tx.Load(ctx, names...); err != nil {
						return err
					}
					total := 0
					vals := make([]item, keys)
					for i, k := range names {
						vals[i], _, _ = tx.Get(ctx, k)
						total += vals[i].N
					}
					if total != keys*start {
						halfSeen.Add(1)
					}
					took = min(amount, vals[from].N)
					vals[from].N -= took
					vals[to].N += took
					return errors.Join(tx.Put(names[from], vals[from]), tx.Put(names[to], vals[to]))
				})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				moved[names[from]] -= took
				moved[names[to]] += took
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if n := halfSeen.Load(); n > 0 {
		t.Errorf("%d transactions saw a total other than %d", n, keys*start)
	}
	total := 0
	for _, k := range names {
		v, _, err := b.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		total += v.N
		if v.N != start+moved[k] || v.N < 0 {
			t.Errorf("%s = %d, want %d from the committed transfers", k, v.N, start+moved[k])
		}
	}
	if total != keys*start {
		t.Errorf("total %d, want %d", total, keys*start)
	}
	t.Logf("%d transfers committed in %d runs of their functions", workers*transfers, runs.Load())
	if runs.Load() == int64(workers*transfers) {
		t.Log("no transaction lost a race: the test did not exercise contention")
	}
}

// TestTransactReturnsTheDecision: fn's error is the result, and nothing it
// staged is written.
func TestTransactReturnsTheDecision(t *testing.T) {
	js := connect(t, newSingle(t).url(), nil)
	ctx := bg(t)
	b := open[item](t, js, kv.Config{Bucket: "decide"})
	stop := errors.New("insufficient stock")
	err := b.Transact(ctx, func(tx *kv.Tx[item]) error {
		if err := tx.Load(ctx, "a", "b"); err != nil {
			return err
		}
		if err := tx.Put("a", item{N: 1}); err != nil {
			return err
		}
		return stop
	})
	if err != stop {
		t.Fatalf("Transact = %v, want fn's error", err)
	}
	if _, _, err := b.Get(ctx, "a"); !errors.Is(err, kv.ErrNotFound) {
		t.Errorf("a was written: %v", err)
	}
}

// TestHotKeyTakesTurns: on three replicas, the transactions of one
// process that write one key take turns on it, and one that waited reads
// the key as the one before it left it, however far behind the replica
// that answers is: they do not lose races to each other (a lost race is a
// write span with the outcome revision_mismatch), where without turns
// most of them lost one or more. None is lost.
func TestHotKeyTakesTurns(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	b := open[item](t, connect(t, fntest.NewCluster(t, nil).URLs(), nil), kv.Config{Bucket: "hot", Replicas: 3, Tracer: tp.Tracer("test")})
	ctx := bg(t)
	const writers, each = 16, 5
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				// A handler's span: writes are traced under one.
				hctx, span := tp.Tracer("test").Start(ctx, "reserve")
				err := b.Transact(hctx, func(tx *kv.Tx[item]) error {
					v, _, err := tx.Get(hctx, "k")
					if err != nil {
						return err
					}
					v.N++
					return tx.Put("k", v)
				})
				span.End()
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if v, _, err := b.GetLatest(ctx, "k"); err != nil || v.N != writers*each {
		t.Fatalf("k = %d, %v; want %d", v.N, err, writers*each)
	}
	lost := 0
	for _, s := range rec.Ended() {
		for _, a := range s.Attributes() {
			if a.Key == "kv.outcome" && a.Value.AsString() == "revision_mismatch" {
				lost++
			}
		}
	}
	// A replica more than staleReads' waits behind may still cost a rare
	// lost race on a loaded machine.
	if lost*10 > writers*each {
		t.Fatalf("%d transactions on one key lost %d races to each other: they did not take turns", writers*each, lost)
	}
	t.Logf("%d transactions on one key, %d lost races", writers*each, lost)
}
