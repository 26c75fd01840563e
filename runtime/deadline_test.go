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

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
	"github.com/natsfn/natsfn/runtime/internal/kv"
)

// deadlineIn is a request that says how long its handler sleeps before it
// writes and emits (without looking at its context).
type deadlineIn struct {
	ID      string `json:"id"`
	SleepMS int    `json:"sleep_ms,omitempty"`
}

// sideEffects serves "fx.do": it sleeps, creates a KV key and emits
// jobs.done, counting its calls, and reports the errors it got.
type sideEffects struct {
	calls atomic.Int64
	mu    sync.Mutex
	kvErr error
	emErr error
}

func (fx *sideEffects) service(t *testing.T) *runtime.Service {
	svc := runtime.NewService(runtime.ServiceConfig{Name: "fx", Version: "1.0.0"})
	jobsStream(svc)
	var bucket *kv.Bucket[deadlineIn]
	svc.OnStart(func(ctx context.Context, d runtime.Deps) (err error) {
		bucket, err = kv.Open[deadlineIn](ctx, d.JetStream, kv.Config{Bucket: "fx"})
		return err
	})
	runtime.Endpoint(svc, "do", func(ctx context.Context, in deadlineIn) (echoOut, error) {
		fx.calls.Add(1)
		time.Sleep(time.Duration(in.SleepMS) * time.Millisecond)
		_, kerr := bucket.Create(ctx, in.ID, in)
		eerr := runtime.Emit(ctx, jobsOut, event{ID: in.ID})
		fx.mu.Lock()
		fx.kvErr, fx.emErr = kerr, eerr
		fx.mu.Unlock()
		if kerr != nil {
			return echoOut{}, runtime.Unavailable(kerr, "%s could not be stored", in.ID)
		}
		return echoOut{Echo: in.ID}, eerr
	})
	return svc
}

// request sends body to subject with headers, waiting up to wait.
func request(t *testing.T, nc *nats.Conn, subject string, body any, wait time.Duration, hdr ...string) *nats.Msg {
	t.Helper()
	msg := nats.NewMsg(subject)
	msg.Data, _ = json.Marshal(body)
	for i := 0; i+1 < len(hdr); i += 2 {
		msg.Header.Set(hdr[i], hdr[i+1])
	}
	reply, err := nc.RequestMsg(msg, wait)
	if err != nil {
		t.Fatalf("request %s: %v", subject, err)
	}
	return reply
}

func errorCode(m *nats.Msg) string { return m.Header.Get(micro.ErrorCodeHeader) }

// TestPassedDeadlineDoesNothing: a request whose Natsfn-Deadline has
// passed when it is taken is a 504 and runs nothing; one whose deadline
// passes while its handler runs writes nothing to KV and emits nothing
// after it; a deadline that is not a time is a 400 naming the header.
func TestPassedDeadlineDoesNothing(t *testing.T) {
	srv := fntest.NewServer(t)
	fx := &sideEffects{}
	fntest.Run(t, srv, fx.service(t))
	nc := srv.Connect(t)
	js := srv.JetStream(t)
	stored := func(id string) bool {
		st, err := js.Stream(context.Background(), "KV_fx")
		if err != nil {
			t.Fatal(err)
		}
		_, err = st.GetLastMsgForSubject(context.Background(), "$KV.fx."+id)
		return err == nil
	}

	past := time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	reply := request(t, nc, "fx.do", deadlineIn{ID: "late"}, 2*time.Second, runtime.HeaderDeadline, past)
	if errorCode(reply) != "504" {
		t.Fatalf("a passed deadline: code %q (%s), want 504", errorCode(reply), reply.Data)
	}
	var body runtime.ErrorBody
	if err := json.Unmarshal(reply.Data, &body); err != nil || body.Error != "deadline_exceeded" ||
		!strings.Contains(body.Description, "nothing was done") {
		t.Errorf("504 body %s", reply.Data)
	}
	if n := fx.calls.Load(); n != 0 {
		t.Fatalf("the handler ran %d times for a request past its deadline", n)
	}

	// The deadline passes while the handler sleeps: its KV write and its
	// emit, which come after, must not start.
	soon := time.Now().Add(300 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	reply = request(t, nc, "fx.do", deadlineIn{ID: "slow", SleepMS: 400}, 2*time.Second, runtime.HeaderDeadline, soon)
	if errorCode(reply) != "503" {
		t.Fatalf("a deadline passed mid-handler: code %q (%s), want 503", errorCode(reply), reply.Data)
	}
	fx.mu.Lock()
	kerr, eerr := fx.kvErr, fx.emErr
	fx.mu.Unlock()
	if !errors.Is(kerr, context.DeadlineExceeded) || !errors.Is(eerr, runtime.ErrUnavailable) {
		t.Errorf("after the deadline: KV write %v, emit %v; want both refused", kerr, eerr)
	}
	time.Sleep(200 * time.Millisecond) // a write or emit that went out anyway would be stored by now
	if stored("slow") || stored("late") {
		t.Error("a KV write started after the deadline")
	}
	if n := subjectCount(t, js, "JOBS", jobsOut.subject); n != 0 {
		t.Errorf("%d events emitted after the deadline", n)
	}

	reply = request(t, nc, "fx.do", deadlineIn{ID: "bad"}, 2*time.Second, runtime.HeaderDeadline, "in five seconds")
	if errorCode(reply) != "400" || !strings.Contains(reply.Header.Get(micro.ErrorHeader), runtime.HeaderDeadline) {
		t.Fatalf("a bad deadline: %q %q, want a 400 naming %s", errorCode(reply), reply.Header.Get(micro.ErrorHeader), runtime.HeaderDeadline)
	}

	// In time, everything happens.
	reply = request(t, nc, "fx.do", deadlineIn{ID: "ok"}, 2*time.Second,
		runtime.HeaderDeadline, time.Now().Add(2*time.Second).UTC().Format(time.RFC3339Nano))
	if errorCode(reply) != "" || !stored("ok") || subjectCount(t, js, "JOBS", jobsOut.subject) != 1 {
		t.Fatalf("in time: code %q (%s), stored %v", errorCode(reply), reply.Data, stored("ok"))
	}
}

// TestCallerDeadlineBoundsHandler: the handler's context ends a little
// before the caller's deadline, so the caller gets the 503 before it gives
// up; without a header the deadline is the endpoint's 5s from arrival.
func TestCallerDeadlineBoundsHandler(t *testing.T) {
	srv := fntest.NewServer(t)
	type deadlineOut struct {
		Deadline time.Time `json:"deadline"`
	}
	svc := runtime.NewService(runtime.ServiceConfig{Name: "wait", Version: "1.0.0"})
	runtime.Endpoint(svc, "block", func(ctx context.Context, in echoIn) (echoOut, error) {
		<-ctx.Done()
		return echoOut{}, ctx.Err()
	})
	runtime.Endpoint(svc, "deadline", func(ctx context.Context, in echoIn) (deadlineOut, error) {
		dl, _ := ctx.Deadline()
		return deadlineOut{Deadline: dl}, nil
	})
	fntest.Run(t, srv, svc)
	nc := srv.Connect(t)

	deadline := time.Now().Add(400 * time.Millisecond)
	start := time.Now()
	reply := request(t, nc, "wait.block", echoIn{Msg: "x"}, 3*time.Second,
		runtime.HeaderDeadline, deadline.UTC().Format(time.RFC3339Nano))
	if errorCode(reply) != "503" || !strings.Contains(reply.Header.Get(micro.ErrorHeader), "timed out") {
		t.Fatalf("code %q %q, want a 503 timed out", errorCode(reply), reply.Header.Get(micro.ErrorHeader))
	}
	if got := time.Now(); got.After(deadline) {
		t.Errorf("the 503 came %v after the caller's deadline", got.Sub(deadline))
	} else if took := got.Sub(start); took < 300*time.Millisecond {
		t.Errorf("the handler gave up after %v, long before the 400ms deadline", took)
	}

	before := time.Now()
	reply = request(t, nc, "wait.deadline", echoIn{Msg: "x"}, 3*time.Second)
	var out deadlineOut
	if err := json.Unmarshal(reply.Data, &out); err != nil {
		t.Fatalf("reply %s: %v", reply.Data, err)
	}
	if left := out.Deadline.Sub(before); left < 4600*time.Millisecond || left > 5*time.Second {
		t.Errorf("default bound %v after the request, want 4.75s (5s less the reply margin)", left)
	}
	// A caller's later deadline cannot lengthen the endpoint's own.
	reply = request(t, nc, "wait.deadline", echoIn{Msg: "x"}, 3*time.Second,
		runtime.HeaderDeadline, time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano))
	if err := json.Unmarshal(reply.Data, &out); err != nil || time.Until(out.Deadline) > 5*time.Second {
		t.Errorf("a one-hour caller deadline gave the handler %v", time.Until(out.Deadline))
	}
}

// TestQueuedRequestsPastDeadlineAreNotRun: requests that wait in an
// endpoint's queue past their default deadline are answered 504 without
// running, and a full queue sheds at once with a 503.
func TestQueuedRequestsPastDeadlineAreNotRun(t *testing.T) {
	srv := fntest.NewServer(t)
	var calls atomic.Int64
	release := make(chan struct{})
	svc := runtime.NewService(runtime.ServiceConfig{Name: "queue", Version: "1.0.0"})
	runtime.Endpoint(svc, "slow", func(ctx context.Context, in echoIn) (echoOut, error) {
		calls.Add(1)
		time.Sleep(400 * time.Millisecond) // not looking at ctx: a handler stuck in a call
		return echoOut{Echo: in.Msg}, nil
	}, runtime.WithTimeout(300*time.Millisecond))
	runtime.Endpoint(svc, "stuck", func(ctx context.Context, in echoIn) (echoOut, error) {
		<-release
		return echoOut{Echo: in.Msg}, nil
	})
	fntest.Run(t, srv, svc)
	nc := srv.Connect(t)

	codes := make(chan string, 6)
	for i := range 6 {
		go func() {
			m, err := nc.Request("queue.slow", []byte(fmt.Sprintf(`{"msg":"%d"}`, i)), 3*time.Second)
			if err != nil {
				codes <- err.Error()
				return
			}
			codes <- errorCode(m)
		}()
	}
	got := map[string]int{}
	for range 6 {
		got[<-codes]++
	}
	if calls.Load() != 1 || got[""] != 1 || got["504"] != 5 {
		t.Fatalf("handler ran %d times; replies by code %v; want one run and five 504s", calls.Load(), got)
	}

	// One request runs, 64 wait in the queue, and the rest are shed.
	const sent = 100
	codes = make(chan string, sent)
	for range sent {
		go func() {
			m, err := nc.Request("queue.stuck", []byte(`{"msg":"x"}`), 10*time.Second)
			if err != nil {
				codes <- err.Error()
				return
			}
			codes <- errorCode(m)
		}()
	}
	shed := 0
	for shed < sent-65 {
		select {
		case c := <-codes:
			if c != "503" {
				t.Fatalf("a request was answered %q while the queue was full", c)
			}
			shed++
		case <-time.After(5 * time.Second):
			t.Fatalf("only %d of %d requests shed", shed, sent-65)
		}
	}
	close(release)
	for range sent - shed {
		switch c := <-codes; c {
		case "":
		case "503":
			shed++ // one more may have come before the worker took the first
		default:
			t.Fatalf("a queued request got %q", c)
		}
	}
	if shed > sent-64 {
		t.Fatalf("%d requests shed; the queue holds 64 besides the one running", shed)
	}
}

// TestEmitRidesOutLeaderLoss: the stream an endpoint and an event handler
// emit to loses its leader while they emit, for longer than nats.go's own
// retries last (two, 250ms apart): first the server restarts, then the
// stream is gone for two seconds, so that nobody answers its subject. Each
// emit is retried with its Nats-Msg-Id until the stream is back, and
// stored once, within the request's deadline and the handler's bound: the
// request succeeds and the event is handled once, never redelivered.
func TestEmitRidesOutLeaderLoss(t *testing.T) {
	_, natsPort := freeAddr(t)
	dir := t.TempDir()
	srv := fntest.NewServerAt(t, natsPort, dir)
	url := srv.ClientURL()
	outs := jetstream.StreamConfig{Name: "OUTS", Subjects: []string{"outs.done"}, Duplicates: time.Minute}
	outTopic := topic{subject: "outs.done", stream: "OUTS"}
	var gate atomic.Pointer[sync.WaitGroup]
	started := make(chan string, 2)
	svc := runtime.NewService(runtime.ServiceConfig{Name: "leader", Version: "1.0.0"})
	jobsStream(svc)
	svc.Stream(outs)
	var handled atomic.Int64
	runtime.OnEvent(svc, "relay", jobsIn, func(ctx context.Context, in event) error {
		handled.Add(1)
		started <- "event"
		gate.Load().Wait()
		return runtime.Emit(ctx, outTopic, event{ID: in.ID})
	})
	runtime.Endpoint(svc, "emit", func(ctx context.Context, in echoIn) (echoOut, error) {
		started <- "request"
		gate.Load().Wait()
		return echoOut{Echo: in.Msg}, runtime.Emit(ctx, outTopic, event{ID: "req-" + in.Msg})
	}, runtime.WithTimeout(9*time.Second))
	inst := fntest.RunConfig(t, srv.Config("leader"), svc)
	client, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(client.Close)
	cjs, _ := jetstream.New(client)

	// round emits once from each handler while outage runs, and checks that
	// both events are stored, the request answered and the event acked.
	round := func(id string, outage func(), replyMayBeLost bool) {
		t.Helper()
		g := &sync.WaitGroup{}
		g.Add(1)
		gate.Store(g)
		before := handled.Load()
		publish(t, cjs, jobsIn, event{ID: id})
		replies := make(chan *nats.Msg, 1)
		go func() {
			msg := nats.NewMsg("leader.emit")
			msg.Data = []byte(`{"msg":"` + id + `"}`)
			msg.Header.Set(runtime.HeaderDeadline, time.Now().Add(8*time.Second).UTC().Format(time.RFC3339Nano))
			m, err := client.RequestMsg(msg, 9*time.Second)
			if err != nil {
				m = &nats.Msg{Data: []byte(err.Error()), Header: nats.Header{micro.ErrorCodeHeader: []string{"timeout"}}}
			}
			replies <- m
		}()
		for range 2 {
			select {
			case <-started:
			case <-time.After(5 * time.Second):
				t.Fatal("handlers did not start")
			}
		}
		outage()
		select {
		case m := <-replies:
			switch {
			case errorCode(m) == "timeout" && replyMayBeLost:
				// Core NATS: a reply sent after the server restarted,
				// before the client had reconnected and subscribed its
				// inbox again, has no one to go to. What is checked is
				// what the handler did: the emit below, stored once.
				t.Logf("%s: the reply was lost across the restart: %s", id, m.Data)
			case errorCode(m) != "":
				t.Fatalf("%s: the request failed: %q %s", id, errorCode(m), m.Data)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no reply", id)
		}
		js := srv.JetStream(t)
		fntest.Eventually(t, 10*time.Second, id+": both events stored and the input acked", func() bool {
			c, err := js.Consumer(context.Background(), "JOBS", "leader-relay")
			if err != nil {
				return false
			}
			info, err := c.Info(context.Background())
			return err == nil && info.NumAckPending == 0 && info.NumPending == 0 &&
				subjectCount(t, js, "OUTS", "outs.done") == 2
		})
		if n := handled.Load() - before; n != 1 {
			t.Errorf("%s: the event was handled %d times, want once", id, n)
		}
	}

	round("restart", func() {
		srv.Stop()
		gate.Load().Done() // both emit while the server is down
		time.Sleep(time.Second)
		srv = fntest.NewServerAt(t, natsPort, dir)
	}, true)
	// Nobody answers outs.done for two seconds: the stream has no leader.
	js := srv.JetStream(t)
	if err := js.DeleteStream(context.Background(), "OUTS"); err != nil {
		t.Fatal(err)
	}
	round("leaderless", func() {
		gate.Load().Done()
		time.Sleep(2 * time.Second)
		if _, err := js.CreateStream(context.Background(), outs); err != nil {
			t.Fatal(err)
		}
	}, false)
	// Stop before the cleanup stops the server: draining needs NATS.
	if err := inst.Stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// TestRequestPropagatesDeadline: runtime.Request gives the callee the
// caller's bound as its Natsfn-Deadline, the correlation id and the trace
// context, and a callee's error comes back as an error of its kind.
func TestRequestPropagatesDeadline(t *testing.T) {
	srv := fntest.NewServer(t)
	type seen struct {
		Header   string    `json:"header"`
		Deadline time.Time `json:"deadline"`
		Corr     string    `json:"corr"`
		Trace    string    `json:"trace"`
	}
	back := runtime.NewService(runtime.ServiceConfig{Name: "back", Version: "1.0.0"})
	runtime.Endpoint(back, "look", func(ctx context.Context, in echoIn) (seen, error) {
		if in.Msg == "missing" {
			return seen{}, runtime.Errorf(runtime.ErrNotFound, "no %s here", in.Msg)
		}
		m := runtime.MessageFrom(ctx)
		dl, _ := ctx.Deadline()
		return seen{Header: m.HeaderValue(runtime.HeaderDeadline), Deadline: dl,
			Corr: m.HeaderValue(runtime.HeaderCorrelationID), Trace: m.HeaderValue("traceparent")}, nil
	})
	type result struct {
		Bound time.Time `json:"bound"`
		Back  seen      `json:"back"`
	}
	front := runtime.NewService(runtime.ServiceConfig{Name: "front", Version: "1.0.0"})
	runtime.Endpoint(front, "ask", func(ctx context.Context, in echoIn) (result, error) {
		bound, _ := ctx.Deadline()
		s, err := runtime.Request[seen](ctx, "back.look", in)
		if err != nil {
			return result{}, fmt.Errorf("asking back: %w", err)
		}
		return result{Bound: bound, Back: s}, nil
	})
	fntest.Run(t, srv, back, front)
	nc := srv.Connect(t)

	deadline := time.Now().Add(2 * time.Second)
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	reply := request(t, nc, "front.ask", echoIn{Msg: "x"}, 3*time.Second,
		runtime.HeaderDeadline, deadline.UTC().Format(time.RFC3339Nano),
		runtime.HeaderCorrelationID, "corr-42",
		"traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	if errorCode(reply) != "" {
		t.Fatalf("front.ask: %q %s", errorCode(reply), reply.Data)
	}
	var r result
	if err := json.Unmarshal(reply.Data, &r); err != nil {
		t.Fatal(err)
	}
	if !r.Bound.Before(deadline) {
		t.Errorf("front's bound %v is not before the caller's deadline %v", r.Bound, deadline)
	}
	got, err := time.Parse(time.RFC3339Nano, r.Back.Header)
	if err != nil || !got.Equal(r.Bound) {
		t.Errorf("back got %s %q, want front's bound %v", runtime.HeaderDeadline, r.Back.Header, r.Bound)
	}
	if !r.Back.Deadline.Before(r.Bound) {
		t.Errorf("back's bound %v does not end before front's %v", r.Back.Deadline, r.Bound)
	}
	if r.Back.Corr != "corr-42" || !strings.Contains(r.Back.Trace, traceID) {
		t.Errorf("back saw correlation %q and traceparent %q", r.Back.Corr, r.Back.Trace)
	}

	reply = request(t, nc, "front.ask", echoIn{Msg: "missing"}, 3*time.Second)
	if errorCode(reply) != "404" || !strings.Contains(reply.Header.Get(micro.ErrorHeader), "no missing here") {
		t.Errorf("a 404 from back: front answered %q %q", errorCode(reply), reply.Header.Get(micro.ErrorHeader))
	}
}
