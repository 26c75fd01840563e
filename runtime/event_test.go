package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/deadletter"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestEventRetriedThenDeadLetteredThenReplayed: a transient failure is
// retried with backoff until MaxDeliver, then dead-lettered with its
// headers, reason and delivery count; a replay after the fix succeeds.
func TestEventRetriedThenDeadLetteredThenReplayed(t *testing.T) {
	srv := fntest.NewServer(t)
	var broken atomic.Bool
	broken.Store(true)
	var mu sync.Mutex
	var attempts []time.Time
	done := make(chan string, 10)

	svc := runtime.NewService(runtime.ServiceConfig{Name: "worker", Version: "1.0.0"})
	jobsStream(svc)
	runtime.OnEvent(svc, "process", jobsIn, func(ctx context.Context, in event) error {
		if broken.Load() {
			mu.Lock()
			attempts = append(attempts, time.Now())
			mu.Unlock()
			return fmt.Errorf("database down: %w", runtime.ErrUnavailable)
		}
		done <- in.ID
		return nil
	}, runtime.MaxDeliver(3), runtime.BackOff(100*time.Millisecond, 300*time.Millisecond))
	fntest.Run(t, srv, svc)

	js := srv.JetStream(t)
	nc := srv.Connect(t)
	publish(t, js, jobsIn, event{ID: "job-1"})

	var list deadletter.ListReply
	fntest.Eventually(t, 10*time.Second, "a dead letter", func() bool {
		reply, err := nc.Request("worker.dlq.list", nil, 2*time.Second)
		if err != nil {
			return false
		}
		list = deadletter.ListReply{}
		return json.Unmarshal(reply.Data, &list) == nil && len(list.Entries) == 1
	})
	mu.Lock()
	if len(attempts) != 3 {
		t.Fatalf("%d attempts, want MaxDeliver=3", len(attempts))
	}
	if gap := attempts[1].Sub(attempts[0]); gap < 90*time.Millisecond {
		t.Errorf("first retry after %s, want the 100ms backoff", gap)
	}
	if gap := attempts[2].Sub(attempts[1]); gap < 280*time.Millisecond {
		t.Errorf("second retry after %s, want the 300ms backoff", gap)
	}
	mu.Unlock()
	dl := list.Entries[0]
	if dl.Handler != "process" || dl.Consumer != "worker-process" || dl.Subject != jobsIn.subject ||
		dl.Deliveries != 3 || dl.Stream != "JOBS" || dl.StreamSeq != 1 {
		t.Fatalf("dead letter %+v", dl)
	}
	if want := "max deliveries (3) exhausted: database down"; len(dl.Reason) < len(want) || dl.Reason[:len(want)] != want {
		t.Errorf("reason %q", dl.Reason)
	}
	var got event
	if err := json.Unmarshal(dl.Data, &got); err != nil || got.ID != "job-1" {
		t.Errorf("payload %q", dl.Data)
	}

	broken.Store(false)
	reply, err := nc.Request("worker.dlq.replay", []byte(fmt.Sprintf(`{"seq":%d}`, dl.Seq)), 2*time.Second)
	if err != nil || reply.Header.Get("Nats-Service-Error-Code") != "" {
		t.Fatalf("replay: %v %v", err, reply.Header)
	}
	select {
	case id := <-done:
		if id != "job-1" {
			t.Fatalf("replayed %q", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("replayed message not handled")
	}
	fntest.Eventually(t, 20*time.Second, "an empty dead-letter list", func() bool {
		reply, err := nc.Request("worker.dlq.list", nil, 2*time.Second)
		var l deadletter.ListReply
		return err == nil && json.Unmarshal(reply.Data, &l) == nil && len(l.Entries) == 0
	})
	// Replaying what is gone is a 404.
	reply, err = nc.Request("worker.dlq.replay", []byte(fmt.Sprintf(`{"seq":%d}`, dl.Seq)), 2*time.Second)
	if err != nil || reply.Header.Get("Nats-Service-Error-Code") != "404" {
		t.Fatalf("second replay: %v %v", err, reply.Header)
	}
}

// TestPermanentErrorTerminatesAtOnce: a 4xx is not retried.
func TestPermanentErrorTerminatesAtOnce(t *testing.T) {
	srv := fntest.NewServer(t)
	var calls atomic.Int64
	svc := runtime.NewService(runtime.ServiceConfig{Name: "strict", Version: "1.0.0"})
	jobsStream(svc)
	runtime.OnEvent(svc, "check", jobsIn, func(ctx context.Context, in event) error {
		calls.Add(1)
		return fmt.Errorf("job %s is nonsense: %w", in.ID, runtime.ErrInvalid)
	}, runtime.MaxDeliver(5), runtime.BackOff(50*time.Millisecond))
	fntest.Run(t, srv, svc)
	js := srv.JetStream(t)
	publish(t, js, jobsIn, event{ID: "bad"})
	// A message that fails its schema is terminated too, without calling the handler.
	publish(t, js, jobsIn, map[string]int{"n": 1})
	fntest.Eventually(t, 20*time.Second, "two dead letters", func() bool {
		return subjectCount(t, js, deadletter.Stream, "deadletter.strict.check") == 2
	})
	time.Sleep(300 * time.Millisecond)
	if calls.Load() != 1 {
		t.Fatalf("handler called %d times, want 1", calls.Load())
	}
}

// TestRedeliveredEmitsAreDeduplicated: a handler that emits and then fails
// runs again; the stream keeps exactly one copy of what it emitted.
func TestRedeliveredEmitsAreDeduplicated(t *testing.T) {
	srv := fntest.NewServer(t)
	var calls atomic.Int64
	svc := runtime.NewService(runtime.ServiceConfig{Name: "emitter", Version: "1.0.0"})
	jobsStream(svc)
	runtime.OnEvent(svc, "relay", jobsIn, func(ctx context.Context, in event) error {
		if err := runtime.Emit(ctx, jobsOut, event{ID: in.ID, N: 1}); err != nil {
			return err
		}
		if err := runtime.Emit(ctx, jobsOut, event{ID: in.ID, N: 2}); err != nil {
			return err
		}
		if calls.Add(1) < 3 {
			return fmt.Errorf("crash after emitting: %w", runtime.ErrUnavailable)
		}
		return nil
	}, runtime.BackOff(50*time.Millisecond))
	fntest.Run(t, srv, svc)
	js := srv.JetStream(t)
	msg := natsMsg(jobsIn.subject, `{"id":"j1"}`)
	msg.Header.Set(runtime.HeaderCorrelationID, "corr-1")
	if _, err := js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	fntest.Eventually(t, 20*time.Second, "three runs", func() bool { return calls.Load() == 3 })
	time.Sleep(200 * time.Millisecond)
	if n := subjectCount(t, js, "JOBS", jobsOut.subject); n != 2 {
		t.Fatalf("%d emitted events stored, want 2 (one per emit)", n)
	}
	// The envelope carries correlation, causation and schema.
	st, _ := js.Stream(context.Background(), "JOBS")
	raw, err := st.GetLastMsgForSubject(context.Background(), jobsOut.subject)
	if err != nil {
		t.Fatal(err)
	}
	h := raw.Header
	if h.Get(runtime.HeaderCorrelationID) != "corr-1" || h.Get("Natsfn-Causation-Id") != "JOBS:1" ||
		h["ce-dataschema"][0] != "jobs.done.v1" || h.Get("Nats-Msg-Id") == "" {
		t.Fatalf("envelope %v", h)
	}
}

// TestTwoInstancesShareConsumer: both instances take part, and every event
// is handled exactly once.
func TestTwoInstancesShareConsumer(t *testing.T) {
	srv := fntest.NewServer(t)
	var mu sync.Mutex
	seen := map[string]int{}
	var per [2]atomic.Int64
	for i := range 2 {
		svc := runtime.NewService(runtime.ServiceConfig{Name: "pool", Version: "1.0.0"})
		jobsStream(svc)
		runtime.OnEvent(svc, "work", jobsIn, func(ctx context.Context, in event) error {
			time.Sleep(2 * time.Millisecond)
			per[i].Add(1)
			mu.Lock()
			seen[in.ID]++
			mu.Unlock()
			return nil
		}, runtime.Concurrency(4))
		fntest.RunConfig(t, srv.Config(fmt.Sprintf("i%d", i)), svc)
	}
	js := srv.JetStream(t)
	for i := range 300 {
		publish(t, js, jobsIn, event{ID: fmt.Sprint(i)})
	}
	fntest.Eventually(t, 15*time.Second, "300 handled", func() bool { return per[0].Load()+per[1].Load() >= 300 })
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 300 {
		t.Fatalf("%d distinct events handled", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("event %s handled %d times", id, n)
		}
	}
	if per[0].Load() == 0 || per[1].Load() == 0 {
		t.Fatalf("consumer not shared: %d / %d", per[0].Load(), per[1].Load())
	}
}

// TestPauseSurvivesAnotherInstance: a consumer paused by one instance (a
// breaker open) stays paused when another instance starts and binds it.
func TestPauseSurvivesAnotherInstance(t *testing.T) {
	srv := fntest.NewServer(t)
	newSvc := func() *runtime.Service {
		svc := runtime.NewService(runtime.ServiceConfig{Name: "pauser", Version: "1.0.0"})
		jobsStream(svc)
		runtime.OnEvent(svc, "work", jobsIn, func(ctx context.Context, in event) error {
			if err := runtime.Pause(ctx, time.Minute); err != nil {
				return err
			}
			return runtime.RetryAfter(time.Minute, fmt.Errorf("gateway down: %w", runtime.ErrUnavailable))
		})
		return svc
	}
	fntest.RunConfig(t, srv.Config("first"), newSvc())
	js := srv.JetStream(t)
	publish(t, js, jobsIn, event{ID: "p"})
	paused := func() bool {
		c, err := js.Consumer(context.Background(), "JOBS", "pauser-work")
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.Paused
	}
	fntest.Eventually(t, 20*time.Second, "the consumer paused", paused)
	fntest.RunConfig(t, srv.Config("second"), newSvc())
	if !paused() {
		t.Fatal("a second instance's start un-paused the consumer")
	}
}

// TestAckWaitFromConfig: NATSFN_ACK_WAIT (Config.AckWait) sets every event
// consumer's AckWait, over the handler's own option; unset, the option
// stands.
func TestAckWaitFromConfig(t *testing.T) {
	srv := fntest.NewServer(t)
	js := srv.JetStream(t)
	newSvc := func(name string) *runtime.Service {
		svc := runtime.NewService(runtime.ServiceConfig{Name: name, Version: "1.0.0"})
		jobsStream(svc)
		runtime.OnEvent(svc, "work", jobsIn, func(ctx context.Context, in event) error {
			return nil
		}, runtime.AckWait(15*time.Second))
		return svc
	}
	ackWait := func(consumer string) time.Duration {
		t.Helper()
		c, err := js.Consumer(context.Background(), "JOBS", consumer)
		if err != nil {
			t.Fatalf("consumer %s: %v", consumer, err)
		}
		return c.CachedInfo().Config.AckWait
	}

	cfg := srv.Config("i1")
	cfg.AckWait = 3 * time.Second
	fntest.RunConfig(t, cfg, newSvc("operated"))
	if got := ackWait("operated-work"); got != 3*time.Second {
		t.Errorf("with NATSFN_ACK_WAIT=3s the consumer's AckWait is %s", got)
	}
	fntest.RunConfig(t, srv.Config("i2"), newSvc("coded"))
	if got := ackWait("coded-work"); got != 15*time.Second {
		t.Errorf("without NATSFN_ACK_WAIT the consumer's AckWait is %s, want the handler's 15s", got)
	}
}
