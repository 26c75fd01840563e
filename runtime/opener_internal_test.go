package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/runtime/embedded"
)

// counterOpener is what a runtime-owned resource (a KV bucket) declares:
// something each running instance opens when it starts.
type counterOpener struct{ opened chan *serviceRun }

func (c *counterOpener) open(ctx context.Context, r *serviceRun) (any, error) {
	if runFrom(ctx) != r || r.js == nil {
		return nil, errors.New("the opener's context does not lead to its instance")
	}
	c.opened <- r
	return "resource of " + r.cfg.InstanceID, nil
}

// TestOpenersPerInstance: an opener declared on a Service runs once for
// every instance that starts, and a handler (and an OnStart hook) finds
// its instance, and what the opener opened for it, through its context.
func TestOpenersPerInstance(t *testing.T) {
	srv, err := embedded.Start(embedded.Config{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	svc := NewService(ServiceConfig{Name: "opened", Version: "1.0.0"})
	o := &counterOpener{opened: make(chan *serviceRun, 2)}
	idx := svc.addOpener(o)
	svc.OnStart(func(ctx context.Context, d Deps) error {
		if r := runFrom(ctx); r == nil || r.opened[idx] != "resource of "+d.InstanceID {
			return fmt.Errorf("OnStart sees %v", r)
		}
		return nil
	})
	type empty struct{}
	Endpoint(svc, "which", func(ctx context.Context, _ empty) (string, error) {
		return runFrom(ctx).opened[idx].(string), nil
	})
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, id := range []string{"i1", "i2"} {
		inst, err := Start(t.Context(), Config{NATSURL: srv.ClientURL(), InstanceID: id, Logger: quiet}, svc)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = inst.Stop() })
	}
	if a, b := <-o.opened, <-o.opened; a == b {
		t.Fatal("one instance opened twice")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	seen := map[string]bool{}
	for i := 0; i < 50 && len(seen) < 2; i++ {
		reply, err := nc.Request("opened.which", []byte(`{}`), 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		seen[string(reply.Data)] = true
	}
	if !seen[`"resource of i1"`] || !seen[`"resource of i2"`] {
		t.Fatalf("handlers found %v, want each instance's own resource", seen)
	}
	if runFrom(context.Background()) != nil {
		t.Fatal("a context outside any instance leads to one")
	}
}
