package kv

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime/embedded"
)

// TestSettle covers each answer a retry after an unknown outcome can get:
// the earlier attempt landed (and may have been replaced since), or it did
// not and the key is still, or no longer, at the expected revision.
func TestSettle(t *testing.T) {
	b, js, ctx := openInternal(t, Config{Bucket: "settle"})
	e := b.e
	rev1, err := b.Create(ctx, "k", 1)
	if err != nil {
		t.Fatal(err)
	}
	// The first attempt of w-1 landed; its answer was lost.
	c := change{key: "k", data: []byte("2"), at: rev1}
	ack, err := js.PublishMsg(ctx, e.message(c, "w-1"))
	if err != nil {
		t.Fatal(err)
	}
	if rev, err := e.settle(ctx, c, "w-1"); err != nil || rev != ack.Sequence {
		t.Fatalf("settle of a landed write: %d, %v; want %d", rev, err, ack.Sequence)
	}
	// Another write replaced it: still landed, at a revision nobody keeps.
	if _, err := b.Update(ctx, "k", 3, ack.Sequence); err != nil {
		t.Fatal(err)
	}
	if rev, err := e.settle(ctx, c, "w-1"); err != nil || rev != 0 {
		t.Fatalf("settle of a landed, replaced write: %d, %v; want 0, nil", rev, err)
	}
	// A write that never landed, on a key that moved on: a lost race.
	if _, err := e.settle(ctx, c, "w-2"); !errors.Is(err, ErrConflict) {
		t.Fatalf("settle of a write that lost: %v, want ErrConflict", err)
	}
	// A write that never landed, on a key still where it was: it lands now.
	_, cur, _ := b.Get(ctx, "k")
	c = change{key: "k", data: []byte("4"), at: cur}
	rev, err := e.settle(ctx, c, "w-3")
	if err != nil || rev <= cur {
		t.Fatalf("settle of a write that never landed: %d, %v", rev, err)
	}
	if v, got, _ := b.Get(ctx, "k"); v != 4 || got != rev {
		t.Fatalf("k = %d at %d, want 4 at %d", v, got, rev)
	}
}

// openInternal opens a bucket of ints as cfg says on an embedded server of
// the test's own, for the package's internal tests, with the JetStream it
// uses and a context bounded at 20 s.
func openInternal(t *testing.T, cfg Config) (*Bucket[int], jetstream.JetStream, context.Context) {
	t.Helper()
	srv, err := embedded.Start(embedded.Config{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	b, err := Open[int](ctx, js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b, js, ctx
}
