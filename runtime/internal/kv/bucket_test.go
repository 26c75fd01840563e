package kv_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime/internal/kv"
)

func TestOpenCreatesAndUpdatesTheBucket(t *testing.T) {
	js := connect(t, newSingle(t).url(), nil)
	ctx := bg(t)
	cfg := kv.Config{Bucket: "cfg", Description: "first", History: 5, TTL: time.Hour}
	b := open[item](t, js, cfg)
	if _, err := b.Create(ctx, "k", item{N: 1}); err != nil {
		t.Fatal(err)
	}
	open[item](t, js, cfg) // idempotent
	cfg.Description, cfg.History = "second", 3
	open[item](t, js, cfg)

	st, err := js.Stream(ctx, "KV_cfg")
	if err != nil {
		t.Fatal(err)
	}
	sc := st.CachedInfo().Config
	if !sc.AllowAtomicPublish || sc.Description != "second" || sc.MaxMsgsPerSubject != 3 || sc.MaxAge != time.Hour ||
		sc.Duplicates != 2*time.Minute || !sc.AllowDirect {
		t.Errorf("stream config: atomic=%v description=%q history=%d ttl=%v duplicates=%v direct=%v",
			sc.AllowAtomicPublish, sc.Description, sc.MaxMsgsPerSubject, sc.MaxAge, sc.Duplicates, sc.AllowDirect)
	}
	if v, _, err := b.Get(ctx, "k"); err != nil || v.N != 1 {
		t.Errorf("value after the updates: %+v, %v", v, err)
	}
}

// TestOpenAdoptsABucketOfNatsGo: a bucket nats.go created (without atomic
// publish) keeps its values and becomes transactional.
func TestOpenAdoptsABucketOfNatsGo(t *testing.T) {
	js := connect(t, newSingle(t).url(), nil)
	ctx := bg(t)
	old, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "old"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.Put(ctx, "a", []byte(`{"n":7}`)); err != nil {
		t.Fatal(err)
	}
	b := open[item](t, js, kv.Config{Bucket: "old"})
	err = b.Transact(ctx, func(tx *kv.Tx[item]) error {
		if err := tx.Load(ctx, "a", "b"); err != nil {
			return err
		}
		a, _, err := tx.Get(ctx, "a")
		if err != nil {
			return err
		}
		return errors.Join(tx.Put("a", item{N: a.N - 1}), tx.Put("b", item{N: 1}))
	})
	if err != nil {
		t.Fatalf("transaction on the adopted bucket: %v", err)
	}
	if a, _, _ := b.Get(ctx, "a"); a.N != 6 {
		t.Errorf("a = %d, want 6", a.N)
	}
}

func TestOpenRejectsABadConfig(t *testing.T) {
	js := connect(t, newSingle(t).url(), nil)
	for _, cfg := range []kv.Config{
		{},
		{Bucket: "has.dot"},
		{Bucket: "b", History: 65},
		{Bucket: "b", TTL: -time.Second},
		{Bucket: "b", MaxBytes: -1},
		{Bucket: "b", Replicas: 7},
		{Bucket: "b", DuplicateWindow: -time.Second},
	} {
		if _, err := kv.Open[item](bg(t), js, cfg); err == nil {
			t.Errorf("Open(%+v) succeeded", cfg)
		}
	}
}

func TestCreateUpdateDelete(t *testing.T) {
	js := connect(t, newSingle(t).url(), nil)
	ctx := bg(t)
	b := open[item](t, js, kv.Config{Bucket: "crud", History: 10})

	if _, _, err := b.Get(ctx, "k"); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get of a new key: %v, want ErrNotFound", err)
	}
	r1, err := b.Create(ctx, "k", item{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Create(ctx, "k", item{N: 2}); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("Create of an existing key: %v, want ErrConflict", err)
	}
	r2, err := b.Update(ctx, "k", item{N: 2}, r1)
	if err != nil || r2 <= r1 {
		t.Fatalf("Update at the current revision: %d, %v", r2, err)
	}
	_, err = b.Update(ctx, "k", item{N: 3}, r1)
	if !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("Update at a stale revision: %v, want ErrConflict", err)
	}
	if !strings.Contains(err.Error(), "crud/k") {
		t.Errorf("the conflict %q does not name the bucket and key", err)
	}
	if err := b.Delete(ctx, "k", r1); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("Delete at a stale revision: %v, want ErrConflict", err)
	}
	if v, rev, err := b.Get(ctx, "k"); err != nil || v.N != 2 || rev != r2 {
		t.Fatalf("Get = %+v at %d, %v; want n=2 at %d", v, rev, err, r2)
	}
	if err := b.Delete(ctx, "k", r2); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.Get(ctx, "k"); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("Get of a deleted key: %v, want ErrNotFound", err)
	}
	if _, _, err := b.GetLatest(ctx, "k"); !errors.Is(err, kv.ErrNotFound) {
		t.Fatalf("GetLatest of a deleted key: %v, want ErrNotFound", err)
	}
	// A deleted key is free again, and so is a purged one.
	r3, err := b.Create(ctx, "k", item{N: 4})
	if err != nil {
		t.Fatalf("Create over a tombstone: %v", err)
	}
	raw, _ := js.KeyValue(ctx, "crud")
	if err := raw.Purge(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Create(ctx, "k", item{N: 5}); err != nil {
		t.Fatalf("Create over a purge marker: %v", err)
	}
	if v, rev, err := b.GetLatest(ctx, "k"); err != nil || v.N != 5 || rev <= r3 {
		t.Fatalf("GetLatest = %+v at %d, %v", v, rev, err)
	}
	// Revision 0 is "never written".
	if _, err := b.Update(ctx, "fresh", item{N: 1}, 0); err != nil {
		t.Fatalf("Update of a never-written key at 0: %v", err)
	}
	if _, err := b.Update(ctx, "fresh", item{N: 1}, 0); !errors.Is(err, kv.ErrConflict) {
		t.Fatalf("Update at 0 of a written key: %v, want ErrConflict", err)
	}
}

func TestInvalidKeys(t *testing.T) {
	js := connect(t, newSingle(t).url(), nil)
	ctx := bg(t)
	b := open[item](t, js, kv.Config{Bucket: "keys"})
	for _, key := range []string{"", ".a", "a.", "a..b", "a b", "a*", "a>"} {
		if _, _, err := b.Get(ctx, key); !errors.Is(err, jetstream.ErrInvalidKey) {
			t.Errorf("Get(%q): %v, want ErrInvalidKey", key, err)
		}
		if _, err := b.Create(ctx, key, item{}); !errors.Is(err, jetstream.ErrInvalidKey) {
			t.Errorf("Create(%q): %v, want ErrInvalidKey", key, err)
		}
	}
	if _, err := b.Create(ctx, "a-b_c/d=e.f", item{N: 1}); err != nil {
		t.Errorf("a valid key: %v", err)
	}
}

// TestUndecodableRecord: a value that is not a record is a permanent error
// that names the key and revision, and nothing is written over it.
func TestUndecodableRecord(t *testing.T) {
	js := connect(t, newSingle(t).url(), nil)
	ctx := bg(t)
	b := open[item](t, js, kv.Config{Bucket: "bad"})
	raw, _ := js.KeyValue(ctx, "bad")
	rev, err := raw.Put(ctx, "k", []byte("not json"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = b.Get(ctx, "k")
	if !errors.Is(err, kv.ErrDecode) || !strings.Contains(err.Error(), "bad/k") || !strings.Contains(err.Error(), "revision") {
		t.Fatalf("Get: %v, want ErrDecode naming bad/k and its revision", err)
	}
	called := false
	_, _, err = b.Modify(ctx, "k", func(v *item, _ bool) error { called = true; return nil })
	if !errors.Is(err, kv.ErrDecode) || called {
		t.Fatalf("Modify: %v (fn called: %v), want ErrDecode without calling fn", err, called)
	}
	tx := b.Begin()
	if _, _, err := tx.Get(ctx, "k"); !errors.Is(err, kv.ErrDecode) {
		t.Fatalf("Tx.Get: %v, want ErrDecode", err)
	}
	if e, _ := raw.Get(ctx, "k"); e.Revision() != rev {
		t.Errorf("the bad value was overwritten: revision %d, want %d", e.Revision(), rev)
	}
}

func TestModify(t *testing.T) {
	js := connect(t, newSingle(t).url(), nil)
	ctx := bg(t)
	b := open[item](t, js, kv.Config{Bucket: "mod", History: 10})

	v, rev, err := b.Modify(ctx, "k", func(v *item, exists bool) error {
		if exists {
			t.Error("a new key exists")
		}
		v.N = 10
		return nil
	})
	if err != nil || v.N != 10 || rev == 0 {
		t.Fatalf("Modify of a new key: %+v at %d, %v", v, rev, err)
	}
	// Leaving the value as it was writes nothing.
	_, same, err := b.Modify(ctx, "k", func(v *item, exists bool) error { return nil })
	if err != nil || same != rev {
		t.Fatalf("no-op Modify: revision %d, %v; want %d", same, err, rev)
	}
	// An error from fn is returned as is, and nothing is written.
	stop := errors.New("out of stock")
	if _, _, err := b.Modify(ctx, "k", func(v *item, _ bool) error { v.N = -1; return stop }); err != stop {
		t.Fatalf("Modify returned %v, want fn's error", err)
	}
	if h := history(t, js, "mod", "k"); len(h) != 1 {
		t.Fatalf("%d revisions after a write, a no-op and a refusal; want 1", len(h))
	}

	// Concurrent increments: none is lost, none applied twice.
	const writers, each = 8, 15
	var wg sync.WaitGroup
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, _, err := b.Modify(ctx, "k", func(v *item, _ bool) error { v.N++; return nil }); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if v, _, _ := b.Get(ctx, "k"); v.N != 10+writers*each {
		t.Fatalf("after %d concurrent increments: n = %d, want %d", writers*each, v.N, 10+writers*each)
	}
}
