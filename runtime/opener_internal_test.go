package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

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

// startServer starts an embedded server with JetStream for this package's
// own tests, which cannot use fntest (it imports runtime).
func startServer(t *testing.T) *embedded.Server {
	t.Helper()
	srv, err := embedded.Start(embedded.Config{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// connectJS connects to srv, closed when the test ends, with its
// JetStream context.
func connectJS(t *testing.T, srv *embedded.Server) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// startQuiet starts an instance of svcs that logs nothing, stopped when
// the test ends.
func startQuiet(t *testing.T, cfg Config, svcs ...*Service) *Instance {
	t.Helper()
	cfg.Logger = slog.New(slog.DiscardHandler)
	inst, err := Start(t.Context(), cfg, svcs...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Stop() })
	return inst
}

// TestOpenersPerInstance: an opener declared on a Service runs once for
// every instance that starts, and a handler (and an OnStart hook) finds
// its instance, and what the opener opened for it, through its context.
func TestOpenersPerInstance(t *testing.T) {
	srv := startServer(t)
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
	for _, id := range []string{"i1", "i2"} {
		startQuiet(t, Config{NATSURL: srv.ClientURL(), InstanceID: id}, svc)
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

// gateOpener opens only once its gate is open, then opens next's.
type gateOpener struct {
	gate, next chan struct{}
}

func (g *gateOpener) open(ctx context.Context, _ *serviceRun) (any, error) {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(5 * time.Second):
		return nil, errors.New("waited 5s for an opener declared after this one: openers open one by one")
	}
	close(g.next)
	return "open", nil
}

// TestOpenersOpenTogether: the resources a service declares (buckets) open
// at once, with its streams, not one after the other: the first opener
// here opens only after the second has started. The OnStart hook declared
// between them still runs after the first, and before Start returns.
func TestOpenersOpenTogether(t *testing.T) {
	srv := startServer(t)
	svc := NewService(ServiceConfig{Name: "together", Version: "1.0.0"})
	svc.Stream(jetstream.StreamConfig{Name: "TOGETHER", Subjects: []string{"together.>"}})
	secondStarted, firstOpened, secondOpened := make(chan struct{}), make(chan struct{}), make(chan struct{})
	first := svc.addOpener(&gateOpener{gate: secondStarted, next: firstOpened})
	hookRan := false
	svc.OnStart(func(ctx context.Context, _ Deps) error {
		if runFrom(ctx).opened[first] != "open" {
			return errors.New("the OnStart hook ran before the opener declared before it")
		}
		hookRan = true
		return nil
	})
	started := make(chan struct{})
	close(started)
	second := svc.addOpener(&gateOpener{gate: started, next: secondOpened})
	// The second opener tells the first it has started by opening.
	go func() {
		<-secondOpened
		close(secondStarted)
	}()
	inst := startQuiet(t, Config{NATSURL: srv.ClientURL(), InstanceID: "t1"}, svc)
	if !hookRan {
		t.Fatal("Start returned before the OnStart hook ran")
	}
	if r := inst.runs[0]; r.opened[first] != "open" || r.opened[second] != "open" {
		t.Fatalf("opened %v, want both openers open", r.opened)
	}
}
