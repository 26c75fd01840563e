package runtime_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

type count struct {
	N int `json:"n"`
}

type key struct {
	Key string `json:"key"`
}

// TestBucket: a declared bucket is created at start as a KV bucket with
// atomic publish, file storage and the configured replicas; its errors
// carry the runtime's sentinels, so an endpoint answers 404 for a missing
// key, 503 for a lost race and 500 for an undecodable record; and another
// function reads it through a BucketReader.
func TestBucket(t *testing.T) {
	srv := fntest.NewServer(t)
	svc := runtime.NewService(runtime.ServiceConfig{Name: "counter", Version: "1.0.0"})
	counters := runtime.NewBucket[count](svc, runtime.BucketConfig{Name: "counters", History: 3})
	var life context.Context // the instance's, from its OnStart hook
	svc.OnStart(func(ctx context.Context, _ runtime.Deps) error {
		life = ctx
		_, err := counters.Create(ctx, "seeded", count{N: 1})
		return err
	})
	runtime.Endpoint(svc, "get", func(ctx context.Context, k key) (count, error) {
		v, _, err := counters.Get(ctx, k.Key)
		return v, err
	})
	runtime.Endpoint(svc, "incr", func(ctx context.Context, k key) (count, error) {
		v, _, err := counters.Modify(ctx, k.Key, func(v *count, _ bool) error { v.N++; return nil })
		return v, err
	})
	reader := runtime.NewService(runtime.ServiceConfig{Name: "reader", Version: "1.0.0"})
	view := runtime.ReadBucket[count]("counters")
	runtime.Endpoint(reader, "peek", func(ctx context.Context, k key) (count, error) {
		v, _, err := view.Get(ctx, k.Key)
		return v, err
	})
	fntest.Run(t, srv, svc, reader)

	js := srv.JetStream(t)
	st, err := js.Stream(t.Context(), "KV_counters")
	if err != nil {
		t.Fatal(err)
	}
	if c := st.CachedInfo().Config; !c.AllowAtomicPublish || c.Storage != jetstream.FileStorage || c.Replicas != 1 || c.MaxMsgsPerSubject != 3 {
		t.Errorf("stream config: atomic %v, storage %v, replicas %d, history %d", c.AllowAtomicPublish, c.Storage, c.Replicas, c.MaxMsgsPerSubject)
	}

	nc := srv.Connect(t)
	for i := range 3 {
		body, code := fntest.Request(t, nc, "counter.incr", []byte(`{"key":"a"}`))
		if code != "" || string(body) != `{"n":`+string(rune('1'+i))+`}` {
			t.Fatalf("incr %d: %s %s", i, code, body)
		}
	}
	if body, code := fntest.Request(t, nc, "reader.peek", []byte(`{"key":"a"}`)); code != "" || string(body) != `{"n":3}` {
		t.Errorf("peek: %s %s", code, body)
	}
	if _, code := fntest.Request(t, nc, "counter.get", []byte(`{"key":"none"}`)); code != "404" {
		t.Errorf("get of a missing key: code %q, want 404", code)
	}
	if _, code := fntest.Request(t, nc, "counter.get", []byte(`{"key":"bad key"}`)); code != "400" {
		t.Errorf("get of an invalid key: code %q, want 400", code)
	}

	// Another writer came first: one sentinel, a 503 at the edge.
	_, err = counters.Create(life, "seeded", count{N: 2})
	if !errors.Is(err, runtime.ErrWriteConflict) || !errors.Is(err, runtime.ErrUnavailable) {
		t.Errorf("second Create: %v, want ErrWriteConflict", err)
	}
	_, rev, err := counters.Get(life, "seeded")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := counters.Update(life, "seeded", count{N: 5}, rev-1); !errors.Is(err, runtime.ErrWriteConflict) {
		t.Errorf("Update at a stale revision: %v", err)
	}
	if err := counters.Delete(life, "seeded", rev); err != nil {
		t.Errorf("Delete: %v", err)
	}

	// A record that is not a count: a permanent 500.
	m := nats.NewMsg("$KV.counters.junk")
	m.Data = []byte("not json")
	if _, err := js.PublishMsg(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if _, code := fntest.Request(t, nc, "counter.get", []byte(`{"key":"junk"}`)); code != "500" {
		t.Errorf("get of an undecodable record: code %q, want 500", code)
	}
	_, _, err = counters.Modify(life, "junk", func(*count, bool) error { return nil })
	if !errors.Is(err, runtime.ErrInternal) {
		t.Errorf("Modify of an undecodable record: %v", err)
	}

	// fn's own error comes back as it is.
	stop := runtime.Errorf(runtime.ErrConflict, "no")
	if _, _, err := counters.Modify(life, "a", func(*count, bool) error { return stop }); err != stop {
		t.Errorf("Modify returned %v, want fn's error", err)
	}
	if err := counters.Transact(life, func(*runtime.Tx[count]) error { return stop }); err != stop {
		t.Errorf("Transact returned %v, want fn's error", err)
	}

	// Outside any instance the bucket says so instead of guessing one.
	if _, _, err := counters.Get(context.Background(), "a"); !errors.Is(err, runtime.ErrInternal) {
		t.Errorf("Get outside an instance: %v", err)
	}
}

// TestTransactMovesAllOrNothing: a transaction over two keys of a
// declared bucket lands both, or neither when it loses on one of them.
func TestTransactMovesAllOrNothing(t *testing.T) {
	srv := fntest.NewServer(t)
	svc := runtime.NewService(runtime.ServiceConfig{Name: "bank", Version: "1.0.0"})
	accounts := runtime.NewBucket[count](svc, runtime.BucketConfig{Name: "accounts"})
	var life context.Context
	svc.OnStart(func(ctx context.Context, _ runtime.Deps) error { life = ctx; return nil })
	fntest.Run(t, srv, svc)

	if _, err := accounts.Create(life, "a", count{N: 10}); err != nil {
		t.Fatal(err)
	}
	runs := 0
	err := accounts.Transact(life, func(tx *runtime.Tx[count]) error {
		runs++
		if err := tx.Load(life, "a", "b"); err != nil {
			return err
		}
		a, _, err := tx.Get(life, "a")
		if err != nil {
			return err
		}
		b, _, err := tx.Get(life, "b")
		if err != nil {
			return err
		}
		if runs == 1 {
			// Another writer changes b after the transaction read it.
			if _, err := accounts.Create(life, "b", count{N: 100}); err != nil {
				return err
			}
		}
		a.N, b.N = a.N-4, b.N+4
		return errors.Join(tx.Put("a", a), tx.Put("b", b))
	})
	if err != nil {
		t.Fatal(err)
	}
	a, _, _ := accounts.Get(life, "a")
	b, _, _ := accounts.Get(life, "b")
	if runs != 2 || a.N != 6 || b.N != 104 {
		t.Errorf("after %d runs a=%d b=%d; want 2 runs, 6 and 104 (the first run wrote nothing)", runs, a.N, b.N)
	}
}

// TestBucketBadConfigFailsStart: a bucket that cannot exist stops the start
// with a configuration error that names it.
func TestBucketBadConfigFailsStart(t *testing.T) {
	srv := fntest.NewServer(t)
	svc := runtime.NewService(runtime.ServiceConfig{Name: "bad", Version: "1.0.0"})
	runtime.NewBucket[count](svc, runtime.BucketConfig{Name: "no spaces"})
	inst, err := runtime.Start(t.Context(), srv.Config("bad"), svc)
	if err == nil {
		_ = inst.Stop()
		t.Fatal("started with a bucket named \"no spaces\"")
	}
	if !errors.Is(err, runtime.ErrConfigValidation) || !strings.Contains(err.Error(), "no spaces") {
		t.Fatalf("start: %v; want a configuration error naming the bucket", err)
	}
}
