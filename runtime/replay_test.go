package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/deadletter"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// dlq calls a function's dead-letter endpoint and decodes its reply.
func dlq(t *testing.T, nc *nats.Conn, subject string, req, out any) {
	t.Helper()
	body, _ := json.Marshal(req)
	reply, err := nc.Request(subject, body, 15*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", subject, err)
	}
	if code := reply.Header.Get(micro.ErrorCodeHeader); code != "" {
		t.Fatalf("%s: %s %s", subject, code, reply.Header.Get(micro.ErrorHeader))
	}
	if err := json.Unmarshal(reply.Data, out); err != nil {
		t.Fatalf("%s: %q: %v", subject, reply.Data, err)
	}
}

// deadLetters lists a function's dead letters.
func deadLetters(t *testing.T, nc *nats.Conn, service string) deadletter.ListReply {
	t.Helper()
	var l deadletter.ListReply
	dlq(t, nc, service+".dlq.list", deadletter.ListRequest{Limit: 1000}, &l)
	return l
}

// TestReplayRunsAsTheOriginalMessage: a replay publishes nothing on the
// event's own subject (a function may not publish another's events): it
// goes through DEADLETTER to the one handler, which sees the original
// stream, sequence, consumer and subject, so its emits get the Nats-Msg-Ids
// of the first delivery and the stream keeps one copy. The replay is gone
// once handled.
func TestReplayRunsAsTheOriginalMessage(t *testing.T) {
	srv := fntest.NewServer(t)
	var broken atomic.Bool
	broken.Store(true)
	type delivery struct {
		subject, stream, consumer, correlation string
		seq                                    uint64
		delivered                              int
	}
	seen := make(chan delivery, 10)
	svc := runtime.NewService(runtime.ServiceConfig{Name: "relayer", Version: "1.0.0"})
	jobsStream(svc)
	runtime.OnEvent(svc, "relay", jobsIn, func(ctx context.Context, in event) error {
		if err := runtime.Emit(ctx, jobsOut, event{ID: in.ID}); err != nil {
			return err
		}
		if broken.Load() {
			return fmt.Errorf("after the emit: %w", runtime.ErrUnavailable)
		}
		m := runtime.MessageFrom(ctx)
		seen <- delivery{subject: m.Subject, stream: m.Stream, seq: m.Sequence, consumer: m.Consumer,
			delivered: m.Delivered, correlation: m.CorrelationID()}
		return nil
	}, runtime.MaxDeliver(2), runtime.BackOff(50*time.Millisecond))
	// A second handler of the same subject must not see the replay.
	var other atomic.Int64
	runtime.OnEvent(svc, "count", jobsIn, func(ctx context.Context, in event) error {
		other.Add(1)
		return nil
	})
	fntest.Run(t, srv, svc)
	js := srv.JetStream(t)
	nc := srv.Connect(t)
	msg := natsMsg(jobsIn.subject, `{"id":"j-1"}`)
	msg.Header.Set(runtime.HeaderCorrelationID, "corr-replay")
	if _, err := js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	var list deadletter.ListReply
	fntest.Eventually(t, 10*time.Second, "a dead letter", func() bool {
		list = deadLetters(t, nc, "relayer")
		return len(list.Entries) == 1
	})
	emitted := fntest.Messages(t, js, "JOBS", jobsOut.subject)
	if len(emitted) != 1 {
		t.Fatalf("%d events emitted by the failed deliveries, want 1 (deduplicated)", len(emitted))
	}

	broken.Store(false)
	var reply deadletter.ReplayReply
	dlq(t, nc, "relayer.dlq.replay", deadletter.ReplayRequest{Seq: list.Entries[0].Seq}, &reply)
	if len(reply.Replayed) != 1 || reply.Remaining != 0 {
		t.Fatalf("replay reply %+v", reply)
	}
	select {
	case m := <-seen:
		if m.subject != jobsIn.subject || m.stream != "JOBS" || m.seq != 1 || m.consumer != "relayer-relay" ||
			m.delivered != 1 || m.correlation != "corr-replay" {
			t.Fatalf("the replay ran as %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the replay never reached the handler")
	}
	if n := subjectCount(t, js, "JOBS", jobsIn.subject); n != 1 {
		t.Fatalf("%d messages on %s: the replay was published on the event's subject", n, jobsIn.subject)
	}
	if n := len(fntest.Messages(t, js, "JOBS", jobsOut.subject)); n != 1 {
		t.Fatalf("%d events emitted after the replay, want the 1 the stream already had", n)
	}
	fntest.Eventually(t, 20*time.Second, "the replay removed", func() bool {
		return subjectCount(t, js, deadletter.Stream, "deadletter.relayer.relay.replay") == 0 &&
			subjectCount(t, js, deadletter.Stream, "deadletter.relayer.relay") == 0
	})
	if other.Load() != 1 {
		t.Fatalf("the other handler of the subject ran %d times, want 1", other.Load())
	}
}

// TestReplayFailingAgainIsDeadLetteredAgain: a replay whose handler still
// fails is retried up to the handler's MaxDeliver and dead-lettered again,
// as a new entry of the same message; the replay itself is removed.
func TestReplayFailingAgainIsDeadLetteredAgain(t *testing.T) {
	srv := fntest.NewServer(t)
	var calls atomic.Int64
	svc := runtime.NewService(runtime.ServiceConfig{Name: "stubborn", Version: "1.0.0"})
	jobsStream(svc)
	runtime.OnEvent(svc, "work", jobsIn, func(ctx context.Context, in event) error {
		calls.Add(1)
		return fmt.Errorf("still down: %w", runtime.ErrUnavailable)
	}, runtime.MaxDeliver(2), runtime.BackOff(50*time.Millisecond))
	fntest.Run(t, srv, svc)
	js := srv.JetStream(t)
	nc := srv.Connect(t)
	publish(t, js, jobsIn, event{ID: "j-1"})
	var first deadletter.ListReply
	fntest.Eventually(t, 10*time.Second, "a dead letter", func() bool {
		first = deadLetters(t, nc, "stubborn")
		return len(first.Entries) == 1
	})
	var reply deadletter.ReplayReply
	dlq(t, nc, "stubborn.dlq.replay", deadletter.ReplayRequest{Seq: first.Entries[0].Seq}, &reply)
	var again deadletter.ListReply
	fntest.Eventually(t, 10*time.Second, "the replay dead-lettered again", func() bool {
		again = deadLetters(t, nc, "stubborn")
		return len(again.Entries) == 1 && again.Entries[0].Seq != first.Entries[0].Seq
	})
	e := again.Entries[0]
	if e.Stream != "JOBS" || e.StreamSeq != 1 || e.Subject != jobsIn.subject || e.Deliveries != 2 ||
		!strings.Contains(e.Reason, "max deliveries (2) exhausted: still down") {
		t.Fatalf("second dead letter %+v", e)
	}
	if calls.Load() != 4 {
		t.Fatalf("handler ran %d times, want 2 deliveries and 2 replay deliveries", calls.Load())
	}
	fntest.Eventually(t, 20*time.Second, "the replay removed", func() bool {
		return subjectCount(t, js, deadletter.Stream, "deadletter.stubborn.work.replay") == 0
	})
}

// TestReplayAllPages: {"all":true} replays a page and says how many dead
// letters remain; asked again, it replays the rest.
func TestReplayAllPages(t *testing.T) {
	const total = 1050
	srv := fntest.NewServer(t)
	var broken atomic.Bool
	broken.Store(true)
	var handled atomic.Int64
	svc := runtime.NewService(runtime.ServiceConfig{Name: "bulk", Version: "1.0.0"})
	jobsStream(svc)
	runtime.OnEvent(svc, "work", jobsIn, func(ctx context.Context, in event) error {
		if broken.Load() {
			return runtime.Errorf(runtime.ErrInvalid, "not yet")
		}
		handled.Add(1)
		return nil
	})
	fntest.Run(t, srv, svc)
	js := srv.JetStream(t)
	nc := srv.Connect(t)
	for i := range total {
		if _, err := js.PublishAsync(jobsIn.subject, []byte(fmt.Sprintf(`{"id":"j-%d"}`, i))); err != nil {
			t.Fatal(err)
		}
	}
	<-js.PublishAsyncComplete()
	fntest.Eventually(t, 60*time.Second, "every event dead-lettered", func() bool {
		return subjectCount(t, js, deadletter.Stream, "deadletter.bulk.work") == total
	})
	broken.Store(false)

	replayed := 0
	for page := 1; replayed < total; page++ {
		var reply deadletter.ReplayReply
		dlq(t, nc, "bulk.dlq.replay", deadletter.ReplayRequest{All: true}, &reply)
		replayed += len(reply.Replayed)
		if len(reply.Replayed) == 0 || len(reply.Replayed) > 1000 || reply.Remaining != total-replayed {
			t.Fatalf("page %d: replayed %d (%d in all), remaining %d", page, len(reply.Replayed), replayed, reply.Remaining)
		}
		if page == 1 && reply.Remaining == 0 {
			t.Fatalf("one page replayed all %d", total)
		}
	}
	fntest.Eventually(t, 60*time.Second, "every replay handled", func() bool { return handled.Load() == total })
	fntest.Eventually(t, 10*time.Second, "every replay removed", func() bool {
		return subjectCount(t, js, deadletter.Stream, "deadletter.bulk.work.replay") == 0
	})
}

// TestReplaySurvivesACrash: an instance that dies while it runs a replay
// loses nothing: the replay is not a dead letter while it runs, and
// another instance runs it after the AckWait.
func TestReplaySurvivesACrash(t *testing.T) {
	srv := fntest.NewServer(t)
	var broken atomic.Bool
	broken.Store(true)
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	inReplay := make(chan struct{}, 1)
	done := make(chan string, 1)
	newSvc := func(hang bool) *runtime.Service {
		svc := runtime.NewService(runtime.ServiceConfig{Name: "crashy", Version: "1.0.0"})
		jobsStream(svc)
		runtime.OnEvent(svc, "work", jobsIn, func(ctx context.Context, in event) error {
			if broken.Load() {
				return runtime.Errorf(runtime.ErrInvalid, "not yet")
			}
			if hang {
				inReplay <- struct{}{}
				<-stuck // the instance dies under it
			}
			done <- in.ID
			return nil
		}, runtime.AckWait(2*time.Second))
		return svc
	}
	cfg := srv.Config("first")
	cfg.ShutdownTimeout = 300 * time.Millisecond
	first := fntest.RunConfig(t, cfg, newSvc(true))
	js := srv.JetStream(t)
	nc := srv.Connect(t)
	publish(t, js, jobsIn, event{ID: "j-1"})
	var list deadletter.ListReply
	fntest.Eventually(t, 10*time.Second, "a dead letter", func() bool {
		list = deadLetters(t, nc, "crashy")
		return len(list.Entries) == 1
	})
	broken.Store(false)
	var reply deadletter.ReplayReply
	dlq(t, nc, "crashy.dlq.replay", deadletter.ReplayRequest{Seq: list.Entries[0].Seq}, &reply)
	select {
	case <-inReplay:
	case <-time.After(10 * time.Second):
		t.Fatal("the replay never reached the handler")
	}
	if l := deadLetters(t, nc, "crashy"); l.Count != 0 || len(l.Entries) != 0 {
		t.Fatalf("while it is replayed, dlq.list shows %+v", l)
	}
	if err := first.Stop(); err == nil {
		t.Fatal("the stop of an instance stuck in a handler did not overrun")
	}

	fntest.RunConfig(t, srv.Config("second"), newSvc(false))
	select {
	case id := <-done:
		if id != "j-1" {
			t.Fatalf("replayed %q", id)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the replay the first instance held never reached the second")
	}
	fntest.Eventually(t, 20*time.Second, "the replay removed", func() bool {
		return subjectCount(t, js, deadletter.Stream, "deadletter.crashy.work.replay") == 0
	})
	if l := deadLetters(t, nc, "crashy"); len(l.Entries) != 0 {
		t.Fatalf("dead letters after the replay: %+v", l.Entries)
	}
}
