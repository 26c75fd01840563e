package runtime_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestGracefulShutdownLosesNothing: Stop while events and requests are in
// flight. Each in-flight event finishes and is acked (never redelivered),
// each in-flight request is answered, and the rest wait in the stream for
// the next instance.
func TestGracefulShutdownLosesNothing(t *testing.T) {
	srv := fntest.NewServer(t)
	var mu sync.Mutex
	handled := map[string]int{}
	var started atomic.Int64
	newSvc := func() *runtime.Service {
		svc := runtime.NewService(runtime.ServiceConfig{Name: "slow", Version: "1.0.0"})
		jobsStream(svc)
		runtime.OnEvent(svc, "work", jobsIn, func(ctx context.Context, in event) error {
			started.Add(1)
			time.Sleep(200 * time.Millisecond)
			mu.Lock()
			handled[in.ID]++
			mu.Unlock()
			return nil
		}, runtime.Concurrency(4), runtime.AckWait(5*time.Second))
		runtime.Endpoint(svc, "wait", func(ctx context.Context, in echoIn) (echoOut, error) {
			time.Sleep(300 * time.Millisecond)
			return echoOut{Echo: in.Msg}, nil
		})
		return svc
	}
	first := fntest.RunConfig(t, srv.Config("first"), newSvc())
	js := srv.JetStream(t)
	for i := range 40 {
		publish(t, js, jobsIn, event{ID: fmt.Sprint(i)})
	}
	fntest.Eventually(t, 20*time.Second, "handlers in flight", func() bool { return started.Load() >= 4 })

	nc := srv.Connect(t)
	replies := make(chan *nats.Msg, 5)
	for range 5 {
		go func() {
			m, err := nc.Request("slow.wait", []byte(`{"msg":"x"}`), 5*time.Second)
			if err != nil {
				m = &nats.Msg{Data: []byte(err.Error())}
			}
			replies <- m
		}()
	}
	time.Sleep(50 * time.Millisecond) // let the requests reach the handler
	if err := first.Stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	for range 5 {
		if m := <-replies; string(m.Data) != `{"echo":"x"}` {
			t.Fatalf("in-flight request got %q", m.Data)
		}
	}
	cons, err := js.Consumer(context.Background(), "JOBS", "slow-work")
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.NumAckPending != 0 || info.NumRedelivered != 0 {
		t.Fatalf("after shutdown: %d ack pending, %d redelivered", info.NumAckPending, info.NumRedelivered)
	}
	mu.Lock()
	done := len(handled)
	mu.Unlock()
	if done == 0 || done == 40 {
		t.Fatalf("%d handled before shutdown; the test needs some in flight and some waiting", done)
	}

	fntest.RunConfig(t, srv.Config("second"), newSvc())
	fntest.Eventually(t, 20*time.Second, "all 40 handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(handled) == 40
	})
	mu.Lock()
	defer mu.Unlock()
	for id, n := range handled {
		if n != 1 {
			t.Fatalf("event %s handled %d times", id, n)
		}
	}
}
