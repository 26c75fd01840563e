package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/deadletter"
	"github.com/natsfn/natsfn/runtime/fntest"
)

var (
	outsStream = jetstream.StreamConfig{Name: "OUTS", Subjects: []string{"outs.>"}, Duplicates: time.Minute}
	outA       = topic{subject: "outs.a", stream: "OUTS"}
	outB       = topic{subject: "outs.b", stream: "OUTS"}
)

// consumerState returns a durable consumer's ack floor and messages
// awaiting an ack.
func consumerState(t *testing.T, js jetstream.JetStream, stream, name string) (ackFloor uint64, ackPending int) {
	t.Helper()
	c, err := js.Consumer(context.Background(), stream, name)
	if err != nil {
		t.Fatalf("consumer %s: %v", name, err)
	}
	info, err := c.Info(context.Background())
	if err != nil {
		t.Fatalf("consumer %s: %v", name, err)
	}
	return info.AckFloor.Stream, info.NumAckPending
}

// TestInputAckedAfterEmitsStored: a handler that emits two events and
// returns at once has its input acked only once both are stored. While
// their stream is gone the input stays unacked (held, not redelivered);
// once the stream is back, the retried emits land, each once, and the
// input is acked.
func TestInputAckedAfterEmitsStored(t *testing.T) {
	srv := fntest.NewServer(t)
	js := srv.JetStream(t)
	var calls atomic.Int64
	svc := runtime.NewService(runtime.ServiceConfig{Name: "twice", Version: "1.0.0"})
	jobsStream(svc)
	runtime.OnEvent(svc, "relay", jobsIn, func(ctx context.Context, in event) error {
		calls.Add(1)
		if err := runtime.Emit(ctx, outA, event{ID: in.ID}); err != nil {
			return err
		}
		return runtime.Emit(ctx, outB, event{ID: in.ID})
	}, runtime.AckWait(time.Second))
	fntest.Run(t, srv, svc)

	publish(t, js, jobsIn, event{ID: "j1"})
	fntest.Eventually(t, 20*time.Second, "the handler ran", func() bool { return calls.Load() == 1 })
	// AckWait is 1s: without InProgress the input would come back.
	for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if floor, pending := consumerState(t, js, "JOBS", "twice-relay"); floor != 0 || pending != 1 {
			t.Fatalf("with the emits' stream gone: ack floor %d, %d pending; want the input held unacked", floor, pending)
		}
	}
	if _, err := js.CreateStream(context.Background(), outsStream); err != nil {
		t.Fatal(err)
	}
	fntest.Eventually(t, 20*time.Second, "the input acked", func() bool {
		floor, pending := consumerState(t, js, "JOBS", "twice-relay")
		return floor == 1 && pending == 0
	})
	if a, b := subjectCount(t, js, "OUTS", outA.subject), subjectCount(t, js, "OUTS", outB.subject); a != 1 || b != 1 {
		t.Fatalf("stored %d and %d events, want one of each", a, b)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("the handler ran %d times, want once", n)
	}
}

// TestFailedEmitRetriesInput: an emit that cannot be stored within the
// handler's bound fails the delivery as a failed handler would: the input
// is retried after the BackOff, then dead-lettered with the emit's error.
func TestFailedEmitRetriesInput(t *testing.T) {
	srv := fntest.NewServer(t)
	js := srv.JetStream(t)
	var calls atomic.Int64
	svc := runtime.NewService(runtime.ServiceConfig{Name: "lost", Version: "1.0.0"})
	jobsStream(svc)
	runtime.OnEvent(svc, "relay", jobsIn, func(ctx context.Context, in event) error {
		calls.Add(1)
		return runtime.Emit(ctx, outA, event{ID: in.ID}) // OUTS never exists
	}, runtime.WithTimeout(300*time.Millisecond), runtime.MaxDeliver(2), runtime.BackOff(50*time.Millisecond))
	fntest.Run(t, srv, svc)
	nc := srv.Connect(t)

	publish(t, js, jobsIn, event{ID: "j1"})
	var list deadletter.ListReply
	fntest.Eventually(t, 10*time.Second, "a dead letter", func() bool {
		reply, err := nc.Request("lost.dlq.list", nil, 2*time.Second)
		list = deadletter.ListReply{}
		return err == nil && json.Unmarshal(reply.Data, &list) == nil && len(list.Entries) == 1
	})
	if n := calls.Load(); n != 2 {
		t.Errorf("the handler ran %d times, want MaxDeliver=2", n)
	}
	if r := list.Entries[0].Reason; !strings.Contains(r, "outs.a could not be published") {
		t.Errorf("dead letter reason %q does not name the emit", r)
	}
	if floor, pending := consumerState(t, js, "JOBS", "lost-relay"); floor != 1 || pending != 0 {
		t.Errorf("after the dead letter: ack floor %d, %d pending", floor, pending)
	}
}

// TestHandlerContextWaitsForEmits: after an Emit, the handler's context
// answers Err only once the event is stored, so the next step sees it;
// Flush waits explicitly; and an emit that fails for good ends the
// context, so the next step fails and the message is retried.
func TestHandlerContextWaitsForEmits(t *testing.T) {
	srv := fntest.NewServer(t)
	js := srv.JetStream(t)
	const n = 20
	var mu sync.Mutex
	seen := map[string]uint64{} // how many events the handler saw stored after its barrier
	var failed atomic.Pointer[string]
	svc := runtime.NewService(runtime.ServiceConfig{Name: "barrier", Version: "1.0.0"})
	jobsStream(svc)
	svc.Stream(outsStream)
	runtime.OnEvent(svc, "relay", jobsIn, func(ctx context.Context, in event) error {
		if in.ID == "doomed" {
			// A subject nats.go refuses to publish to: a failure for good.
			// (An emit to a subject no stream stores is retried until the
			// handler's bound, and under load its last attempt could still
			// be in flight then: ctx.Err was DeadlineExceeded in a CI run,
			// as it should be then.)
			if err := runtime.Emit(ctx, topic{subject: "nowhere x", stream: "NONE"}, event{ID: in.ID}); err != nil {
				return err
			}
			cerr := ctx.Err()
			ferr := runtime.Flush(ctx)
			msg := fmt.Sprintf("ctx.Err: %v; Flush: %v", cerr, ferr)
			failed.Store(&msg)
			return cerr
		}
		if err := runtime.Emit(ctx, outA, event{ID: in.ID, N: in.N}); err != nil {
			return err
		}
		if in.N%2 == 0 {
			if err := ctx.Err(); err != nil { // what every NATS or KV call asks first
				return err
			}
		} else if err := runtime.Flush(ctx); err != nil {
			return err
		}
		stored := subjectCount(t, js, "OUTS", outA.subject)
		mu.Lock()
		seen[in.ID] = stored
		mu.Unlock()
		return nil
	}, runtime.Concurrency(1), runtime.WithTimeout(500*time.Millisecond), runtime.MaxDeliver(1))
	fntest.Run(t, srv, svc)

	for i := range n {
		publish(t, js, jobsIn, event{ID: fmt.Sprint(i), N: i})
	}
	fntest.Eventually(t, 10*time.Second, "every event handled", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(seen) == n
	})
	mu.Lock()
	for i := range n {
		// One at a time (Concurrency 1): event i is the (i+1)th stored.
		if got := seen[fmt.Sprint(i)]; got != uint64(i+1) {
			t.Errorf("event %d: the handler's next step saw %d events stored, want %d", i, got, i+1)
		}
	}
	mu.Unlock()

	publish(t, js, jobsIn, event{ID: "doomed"})
	fntest.Eventually(t, 20*time.Second, "the doomed emit's outcome", func() bool { return failed.Load() != nil })
	if msg := *failed.Load(); !strings.Contains(msg, "ctx.Err: context canceled") || !strings.Contains(msg, "nowhere x could not be published") {
		t.Errorf("after a failed emit: %s", msg)
	}
	fntest.Eventually(t, 20*time.Second, "the doomed event dead-lettered", func() bool {
		return subjectCount(t, js, deadletter.Stream, "deadletter.barrier.relay") == 1
	})
}

// TestGracefulShutdownSettlesEmits: Stop while handlers emit. Every event
// taken is handled once and acked after its emit is stored, none is
// redelivered, and the next instance handles the rest.
func TestGracefulShutdownSettlesEmits(t *testing.T) {
	srv := fntest.NewServer(t)
	js := srv.JetStream(t)
	var mu sync.Mutex
	handled := map[string]int{}
	var started atomic.Int64
	newSvc := func() *runtime.Service {
		svc := runtime.NewService(runtime.ServiceConfig{Name: "drain", Version: "1.0.0"})
		jobsStream(svc)
		svc.Stream(outsStream)
		runtime.OnEvent(svc, "relay", jobsIn, func(ctx context.Context, in event) error {
			started.Add(1)
			time.Sleep(50 * time.Millisecond)
			mu.Lock()
			handled[in.ID]++
			mu.Unlock()
			return runtime.Emit(ctx, outA, event{ID: in.ID})
		}, runtime.Concurrency(4))
		return svc
	}
	first := fntest.RunConfig(t, srv.Config("first"), newSvc())
	for i := range 100 {
		publish(t, js, jobsIn, event{ID: fmt.Sprint(i)})
	}
	fntest.Eventually(t, 20*time.Second, "handlers in flight", func() bool { return started.Load() >= 8 })
	if err := first.Stop(); err != nil {
		t.Fatalf("graceful stop: %v", err)
	}
	floor, pending := consumerState(t, js, "JOBS", "drain-relay")
	mu.Lock()
	done := len(handled)
	mu.Unlock()
	if pending != 0 || int(floor) != done {
		t.Fatalf("after shutdown: ack floor %d and %d pending, with %d handled", floor, pending, done)
	}
	if stored := subjectCount(t, js, "OUTS", outA.subject); stored != uint64(done) {
		t.Fatalf("%d handled and %d emitted before the shutdown", done, stored)
	}
	if done == 0 || done == 100 {
		t.Fatalf("%d handled before shutdown; the test needs some in flight and some waiting", done)
	}
	fntest.RunConfig(t, srv.Config("second"), newSvc())
	fntest.Eventually(t, 20*time.Second, "all 100 handled", func() bool {
		return subjectCount(t, js, "OUTS", outA.subject) == 100
	})
	mu.Lock()
	defer mu.Unlock()
	for id, n := range handled {
		if n != 1 {
			t.Fatalf("event %s handled %d times", id, n)
		}
	}
}

// TestStopStrandsNothing: a graceful stop during a backlog, on a
// three-node cluster with 5 ms between the nodes, leaves no message taken
// for the stopping instance that it did not get: all it was delivered is
// handled and acked, and nothing awaits an ack. Without the stop's hold
// (serviceRun.settlePulls) every stop here stranded a batch until AckWait.
func TestStopStrandsNothing(t *testing.T) {
	cluster := slowCluster(t, 5*time.Millisecond)
	js := cluster.JetStream(t)
	fntest.Eventually(t, 60*time.Second, "the cluster's JetStream", func() bool {
		_, err := js.AccountInfo(context.Background())
		return err == nil
	})
	for round := range 4 {
		stream := fmt.Sprintf("STOP%d", round)
		in := topic{subject: fmt.Sprintf("stop%d.in", round), stream: stream}
		var handled atomic.Int64
		svc := runtime.NewService(runtime.ServiceConfig{Name: "stopper", Version: "1.0.0"})
		svc.Stream(jetstream.StreamConfig{Name: stream, Subjects: []string{in.subject}})
		runtime.OnEvent(svc, "work", in, func(ctx context.Context, _ event) error {
			handled.Add(1)
			time.Sleep(time.Millisecond)
			return nil
		}, runtime.Concurrency(4))
		inst := fntest.RunConfig(t, cluster.Config(stream), svc)
		for i := range 400 {
			if _, err := js.PublishAsync(in.subject, fmt.Appendf(nil, `{"id":"%d"}`, i)); err != nil {
				t.Fatal(err)
			}
		}
		select {
		case <-js.PublishAsyncComplete():
		case <-time.After(30 * time.Second):
			t.Fatal("the backlog was not stored")
		}
		fntest.Eventually(t, 20*time.Second, "a tenth handled", func() bool { return handled.Load() >= 40 })
		if err := inst.Stop(); err != nil {
			t.Fatalf("graceful stop: %v", err)
		}
		var floor uint64
		var pending int
		deadline := time.Now().Add(3 * time.Second)
		for {
			floor, pending = consumerState(t, js, stream, "stopper-work")
			if (pending == 0 && int64(floor) == handled.Load()) || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if pending != 0 || int64(floor) != handled.Load() {
			t.Errorf("round %d, after the stop: %d await an ack, ack floor %d, %d handled", round, pending, floor, handled.Load())
		}
		if handled.Load() == 400 {
			t.Errorf("round %d: all handled before the stop; the test needs a backlog at the stop", round)
		}
	}
}

// TestEmitAfterReturnRefused: an Emit from a goroutine the handler left
// behind, after it returned, is refused: its input may be acked already.
func TestEmitAfterReturnRefused(t *testing.T) {
	srv := fntest.NewServer(t)
	errs := make(chan error, 1)
	svc := runtime.NewService(runtime.ServiceConfig{Name: "late", Version: "1.0.0"})
	jobsStream(svc)
	runtime.OnEvent(svc, "relay", jobsIn, func(ctx context.Context, in event) error {
		go func() {
			time.Sleep(100 * time.Millisecond)
			errs <- runtime.Emit(ctx, jobsOut, event{ID: in.ID})
		}()
		return nil
	})
	fntest.Run(t, srv, svc)
	publish(t, srv.JetStream(t), jobsIn, event{ID: "j"})
	select {
	case err := <-errs:
		if !errors.Is(err, runtime.ErrInternal) || !strings.Contains(err.Error(), "after the handler") {
			t.Fatalf("a late Emit: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no late emit")
	}
}

// TestResumedConsumerDeliversAtOnce: a consumer paused with runtime.Pause
// and resumed early through the API (`nats consumer resume`) delivers
// again at once, not when the pull request it waited on during the pause
// expires (half the AckWait: 15 s here).
func TestResumedConsumerDeliversAtOnce(t *testing.T) {
	srv := fntest.NewServer(t)
	js := srv.JetStream(t)
	var handled atomic.Int64
	svc := runtime.NewService(runtime.ServiceConfig{Name: "resume", Version: "1.0.0"})
	jobsStream(svc)
	runtime.OnEvent(svc, "work", jobsIn, func(ctx context.Context, in event) error {
		if handled.Add(1) == 1 {
			return runtime.Pause(ctx, time.Hour)
		}
		return nil
	})
	fntest.Run(t, srv, svc)
	publish(t, js, jobsIn, event{ID: "pauser"})
	fntest.Eventually(t, 20*time.Second, "the pause", func() bool {
		c, err := js.Consumer(context.Background(), "JOBS", "resume-work")
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.Paused && handled.Load() == 1
	})
	for i := range 50 {
		publish(t, js, jobsIn, event{ID: fmt.Sprint(i)})
	}
	time.Sleep(time.Second)
	if n := handled.Load(); n != 1 {
		t.Fatalf("%d events handled while paused", n-1)
	}
	if _, err := js.ResumeConsumer(context.Background(), "JOBS", "resume-work"); err != nil {
		t.Fatal(err)
	}
	fntest.Eventually(t, 20*time.Second, "the backlog handled after the resume", func() bool { return handled.Load() == 51 })
}
