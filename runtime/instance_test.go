package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestSameServiceRunsTwice: one declared Service runs as two instances in
// one process at once. Each has its own connection, consumer binding and
// figures; they share the requests and the events; stopping one leaves
// the other serving; and neither run changes the declaration.
func TestSameServiceRunsTwice(t *testing.T) {
	srv := fntest.NewServer(t)
	var mu sync.Mutex
	seen := map[string]int{}
	var starts atomic.Int64
	svc := runtime.NewService(runtime.ServiceConfig{Name: "twice", Version: "1.0.0"})
	jobsStream(svc)
	var instance sync.Map // the OnStart hook's Deps, per run
	svc.OnStart(func(ctx context.Context, d runtime.Deps) error {
		starts.Add(1)
		instance.Store(d.InstanceID, d.Conn)
		return nil
	})
	runtime.Endpoint(svc, "who", func(ctx context.Context, in echoIn) (echoOut, error) {
		return echoOut{Echo: runtime.MessageFrom(ctx).Service}, nil
	})
	runtime.OnEvent(svc, "work", jobsIn, func(ctx context.Context, in event) error {
		time.Sleep(2 * time.Millisecond)
		mu.Lock()
		defer mu.Unlock()
		seen[in.ID]++
		return nil
	}, runtime.Concurrency(2))
	before := svc.Describe()

	// Both start at once.
	var insts [2]*runtime.Instance
	var errs [2]error
	var wg sync.WaitGroup
	for i, id := range []string{"a", "b"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			insts[i], errs[i] = runtime.Start(t.Context(), srv.Config(id), svc)
		}()
	}
	wg.Wait()
	for _, inst := range insts {
		if inst != nil {
			t.Cleanup(func() { _ = inst.Stop() })
		}
	}
	if err := errors.Join(errs[:]...); err != nil {
		t.Fatalf("start: %v", err)
	}
	a, b := insts[0], insts[1]
	if starts.Load() != 2 {
		t.Fatalf("OnStart ran %d times, want once per instance", starts.Load())
	}
	ca, _ := instance.Load("a")
	cb, _ := instance.Load("b")
	if ca == nil || cb == nil || ca == cb {
		t.Fatalf("instances a and b got connections %p and %p, want one each", ca, cb)
	}
	nc := srv.Connect(t)
	if n := pingAll(t, nc, "twice"); n != 2 {
		t.Fatalf("%d instances answer PING, want 2", n)
	}
	js := srv.JetStream(t)
	const events = 200
	for i := range events {
		publish(t, js, jobsIn, event{ID: fmt.Sprint(i)})
	}
	fntest.Settled(t, js, "JOBS", "twice-work")
	mu.Lock()
	if len(seen) != events {
		t.Errorf("%d distinct events handled, want %d", len(seen), events)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("event %s handled %d times", id, n)
		}
	}
	mu.Unlock()
	// Each instance counts its own deliveries: together, every event once.
	fntest.Eventually(t, 20*time.Second, "each instance's own figures", func() bool {
		figures := eventFigures(t, nc, "twice", "work")
		return len(figures) == 2 && figures[0].Acked+figures[1].Acked == events &&
			figures[0].Acked > 0 && figures[1].Acked > 0
	})

	if err := a.Stop(); err != nil {
		t.Fatalf("stop a: %v", err)
	}
	for range 20 {
		reply, err := nc.Request("twice.who", []byte(`{"msg":"x"}`), 2*time.Second)
		if err != nil || !strings.Contains(string(reply.Data), "twice") {
			t.Fatalf("after a stopped, b answers %v %q", err, reply.Data)
		}
	}
	publish(t, js, jobsIn, event{ID: "after"})
	fntest.Settled(t, js, "JOBS", "twice-work")
	if !reflect.DeepEqual(before, svc.Describe()) {
		t.Fatalf("running changed the declaration:\nbefore %+v\nafter  %+v", before, svc.Describe())
	}
	if err := b.Stop(); err != nil {
		t.Fatalf("stop b: %v", err)
	}
}

// TestBackOffMustFitMaxDeliver: the default BackOff is cut to the
// MaxDeliver chosen (MaxDeliver(3) runs), and a BackOff a handler gives
// that is longer than its MaxDeliver stops Start with an error naming the
// handler and both numbers.
func TestBackOffMustFitMaxDeliver(t *testing.T) {
	srv := fntest.NewServer(t)
	ok := runtime.NewService(runtime.ServiceConfig{Name: "fits", Version: "1.0.0"})
	jobsStream(ok)
	runtime.OnEvent(ok, "work", jobsIn, func(context.Context, event) error { return nil }, runtime.MaxDeliver(3))
	fntest.Run(t, srv, ok)
	if got := ok.Describe().EventHandlers[0].BackOff; len(got) != 3 || got[0] != time.Second {
		t.Errorf("default BackOff with MaxDeliver(3): %v", got)
	}

	bad := runtime.NewService(runtime.ServiceConfig{Name: "overlong", Version: "1.0.0"})
	jobsStream(bad)
	runtime.OnEvent(bad, "work", jobsIn, func(context.Context, event) error { return nil },
		runtime.MaxDeliver(2), runtime.BackOff(time.Second, 2*time.Second, 3*time.Second))
	_, err := runtime.Start(t.Context(), srv.Config("bad"), bad)
	if !errors.Is(err, runtime.ErrConfigValidation) {
		t.Fatalf("Start: %v, want a configuration error", err)
	}
	for _, want := range []string{"overlong", "work", "BackOff has 3 delays", "MaxDeliver is 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// TestOpsHandlers: handlers in Config.OpsHandlers are served on the ops
// port beside /healthz; one whose pattern clashes with the runtime's is a
// configuration error naming it, and nothing is left listening or
// connected (Start dials NATS while it sets the ops port up).
func TestOpsHandlers(t *testing.T) {
	srv := fntest.NewServer(t)
	addr, _ := freeAddr(t)
	cfg := srv.Config("ops")
	cfg.OpsAddr = addr
	cfg.OpsHandlers = map[string]http.Handler{
		"/console/": http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte("console at " + r.URL.Path))
		}),
	}
	inst := fntest.RunConfig(t, cfg, echoService(1))
	if code, body := get(t, "http://"+addr+"/console/orders"); code != http.StatusOK || body != "console at /console/orders" {
		t.Fatalf("/console/orders: %d %q", code, body)
	}
	if code, _ := get(t, "http://"+addr+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz: %d", code)
	}
	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}

	cfg.OpsHandlers = map[string]http.Handler{"GET /healthz": http.NotFoundHandler()}
	_, err := runtime.Start(t.Context(), cfg, echoService(1))
	if !errors.Is(err, runtime.ErrConfigValidation) || !strings.Contains(err.Error(), `"GET /healthz"`) {
		t.Fatalf("Start with a clashing ops handler: %v", err)
	}
	if code, _ := get(t, "http://"+addr+"/healthz"); code != 0 {
		t.Fatalf("a failed Start left the ops port answering %d", code)
	}
	fntest.Eventually(t, 2*time.Second, "no connection of the failed Start", func() bool {
		conns, err := srv.Connz(&server.ConnzOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range conns.Conns {
			if c.Name == "echo/"+cfg.InstanceID {
				return false
			}
		}
		return true
	})
}

// eventFigures collects the stats data of an event handler from every
// instance of a service that answers a micro STATS request.
func eventFigures(t *testing.T, nc *nats.Conn, service, handler string) []runtime.EventFigures {
	t.Helper()
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest("$SRV.STATS."+service, inbox, nil); err != nil {
		t.Fatal(err)
	}
	var out []runtime.EventFigures
	for {
		msg, err := sub.NextMsg(300 * time.Millisecond)
		if err != nil {
			return out
		}
		var stats micro.Stats
		if err := json.Unmarshal(msg.Data, &stats); err != nil {
			t.Fatalf("stats %q: %v", msg.Data, err)
		}
		for _, e := range stats.Endpoints {
			if e.Name == handler {
				var f runtime.EventFigures
				if err := json.Unmarshal(e.Data, &f); err != nil {
					t.Fatalf("figures %q: %v", e.Data, err)
				}
				out = append(out, f)
			}
		}
	}
}
