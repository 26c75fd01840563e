package runtime

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// plainTopic is an event topic without a schema check.
type plainTopic struct{ subject, stream string }

func (t plainTopic) ID() string              { return t.subject + ".v1" }
func (t plainTopic) Subject() string         { return t.subject }
func (t plainTopic) Stream() string          { return t.stream }
func (t plainTopic) Validate(_ []byte) error { return nil }

// tickerRun runs a "ticker" service whose handler "count" runs blocked
// (its gate closed) and counts what it handled, with pendingPollEvery
// replaced by every. polls counts the instance's CONSUMER.INFO requests.
type tickerRun struct {
	e       *eventRun
	js      jetstream.JetStream
	handled atomic.Int64
	polls   atomic.Int64
}

var ticks = plainTopic{subject: "ticks.made", stream: "TICKS"}

// Before it starts, backlog ticks are published.
func runTicker(t *testing.T, every time.Duration, gate chan struct{}, backlog int, opts ...EventOption) *tickerRun {
	t.Helper()
	srv := startServer(t)
	tr := &tickerRun{}
	nc, js := connectJS(t, srv)
	tr.js = js
	stream := jetstream.StreamConfig{Name: ticks.stream, Subjects: []string{ticks.subject}, Duplicates: DefaultDuplicateWindow,
		AllowAtomicPublish: true} // as svc.Stream declares it: no update at the start
	if _, err := tr.js.CreateStream(t.Context(), stream); err != nil {
		t.Fatal(err)
	}
	tr.publish(t, backlog, 0)
	svc := NewService(ServiceConfig{Name: "ticker", Version: "1.0.0"})
	svc.Stream(stream)
	OnEvent(svc, "count", ticks, func(context.Context, json.RawMessage) error {
		<-gate
		tr.handled.Add(1)
		return nil
	}, opts...)
	inst := startQuiet(t, Config{NATSURL: srv.ClientURL(), InstanceID: "p1", pollEvery: every}, svc)
	tr.e = inst.runs[0].events[0]
	// The instance's JetStream requests carry its own inbox as reply.
	if _, err := nc.Subscribe("$JS.API.CONSUMER.INFO.TICKS.ticker-count", func(m *nats.Msg) {
		if strings.HasPrefix(m.Reply, inboxPrefix("ticker")+".") {
			tr.polls.Add(1)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return tr
}

func (tr *tickerRun) publish(t *testing.T, n int, gap time.Duration) {
	t.Helper()
	for range n {
		if _, err := tr.js.Publish(t.Context(), ticks.subject, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(gap)
	}
}

// TestPendingFromDeliveries: the pending figure follows the deliveries'
// metadata, with no CONSUMER.INFO at all. With Concurrency(1) the first
// tick is held by the handler while a few more are taken (queued, or
// waiting for room); the last one taken says how many of the 10 are still
// to come.
func TestPendingFromDeliveries(t *testing.T) {
	gate := make(chan struct{})
	var open sync.Once
	release := func() { open.Do(func() { close(gate) }) }
	tr := runTicker(t, time.Hour, gate, 10, Concurrency(1))
	// Cleanups run last first: the handler is let go before the instance
	// stops, even when the test fails.
	t.Cleanup(release)
	// Start read 10 from the consumer's info when it bound.
	waitUntil(t, 20*time.Second, "pending from the last delivery taken", func() bool {
		taken := tr.e.stats.deliveries.Load()
		return taken >= 2 && tr.e.stats.numPending.Load() == 10-taken
	})
	release()
	waitUntil(t, 20*time.Second, "every tick handled", func() bool { return tr.handled.Load() == 10 })
	if got := tr.e.figures().Pending; got != 0 {
		t.Fatalf("pending %d after the last delivery, want 0", got)
	}
	if n := tr.polls.Load(); n != 0 {
		t.Fatalf("%d CONSUMER.INFO requests, want none", n)
	}
}

// TestPendingPolledOnlyWhileIdle: while deliveries flow the instance sends
// no CONSUMER.INFO; once nothing arrives (the consumer is paused with a
// backlog), it polls, and the figures show the backlog.
func TestPendingPolledOnlyWhileIdle(t *testing.T) {
	const every = 600 * time.Millisecond
	gate := make(chan struct{})
	close(gate)
	tr := runTicker(t, every, gate, 0)
	// A delivery every 20 ms for 3 s, five poll intervals.
	tr.publish(t, 10, 20*time.Millisecond)
	tr.polls.Store(0) // the first interval began idle
	tr.publish(t, 150, 20*time.Millisecond)
	waitUntil(t, 20*time.Second, "every tick handled", func() bool { return tr.handled.Load() == 160 })
	if n := tr.polls.Load(); n != 0 {
		t.Fatalf("%d CONSUMER.INFO requests while deliveries flowed, want none", n)
	}

	if _, err := tr.js.PauseConsumer(t.Context(), ticks.stream, "ticker-count", time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	tr.publish(t, 5, 0)
	waitUntil(t, 5*every, "a poll shows the paused backlog", func() bool {
		return tr.e.stats.numPending.Load() == 5
	})
	// The request reaches this test's subscription on its own connection,
	// which may run after the instance has read the reply: wait for it
	// rather than read the counter once.
	waitUntil(t, 20*time.Second, "the backlog figure came from a CONSUMER.INFO", func() bool {
		return tr.polls.Load() > 0
	})
	if f := tr.e.figures(); f.Pending != 5 || f.AckPending != 0 {
		t.Fatalf("figures pending %d, ack pending %d; want 5 and 0", f.Pending, f.AckPending)
	}
}

// waitUntil polls cond every 10 ms until it holds, or fails after within.
func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
