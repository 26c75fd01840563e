package runtime

import (
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestNoRespondersPullsAgain: a pull the server answers with 503 (no
// responders) makes the handler bind and pull again at once. Consume alone
// would count that pull as open and take nothing until two heartbeats were
// missed (15 s with the default AckWait): CI saw an instance starting
// beside another get that answer and take none of 200 events.
func TestNoRespondersPullsAgain(t *testing.T) {
	gate := make(chan struct{})
	close(gate)
	tr := runTicker(t, time.Hour, gate, 0)
	loop := tr.e.loop
	before := loop.consuming.Load()
	loop.consumeError(nil, nats.ErrNoResponders)
	waitUntil(t, 20*time.Second, "a new Consume after the 503", func() bool {
		cc := loop.consuming.Load()
		return cc != nil && cc != before && loop.bound()
	})
	tr.publish(t, 3, 0)
	waitUntil(t, 20*time.Second, "the ticks published after it handled", func() bool { return tr.handled.Load() == 3 })
}

// TestNoRespondersInARowBackOff: pulls answered "no responders" again and
// again (a consumer whose leader is not elected yet, while its info
// answers) rebind with growing pauses, not in a loop of JetStream API
// calls: 1 s of them gives a handful of rebinds (50, 100, 200, 400 ms
// apart), where the loop without pauses bound tens of times a second.
func TestNoRespondersInARowBackOff(t *testing.T) {
	gate := make(chan struct{})
	close(gate)
	tr := runTicker(t, time.Hour, gate, 0)
	loop := tr.e.loop
	seen := map[*jetstream.ConsumeContext]bool{loop.consuming.Load(): true}
	end := time.Now().Add(time.Second)
	for time.Now().Before(end) {
		loop.consumeError(nil, nats.ErrNoResponders)
		if cc := loop.consuming.Load(); cc != nil {
			seen[cc] = true
		}
		time.Sleep(time.Millisecond)
	}
	rebinds := len(seen) - 1
	if rebinds < 2 || rebinds > 8 {
		t.Fatalf("%d rebinds in 1s of no responders, want 2 to 8 (at once, then 50, 100, 200, 400 ms apart)", rebinds)
	}
	waitUntil(t, 20*time.Second, "bound after the last rebind", loop.bound)
	tr.publish(t, 3, 0)
	waitUntil(t, 20*time.Second, "the ticks published after it handled", func() bool { return tr.handled.Load() == 3 })
}

// TestRebindAttemptsGrow: rebind's first attempts are short, so that a
// consumer whose new leader is elected while an attempt waits is bound
// about a second later, not up to 5 s later; they grow to 5 s for a
// cluster too loaded to answer sooner.
func TestRebindAttemptsGrow(t *testing.T) {
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second, 5 * time.Second}
	for try, w := range want {
		if got := rebindAttempt(try); got != w {
			t.Errorf("attempt %d bounded by %s, want %s", try, got, w)
		}
	}
	if got := rebindAttempt(100); got != 5*time.Second {
		t.Errorf("attempt 100 bounded by %s, want 5s", got)
	}
}

// TestConsumerReadWhileItsStreamIsMade: a handler's consumer on a stream
// the instance makes is read while the stream is made, not after (issue
// 12.7: two JetStream round trips in a row on every start's path). Its
// CONSUMER.INFO goes out while the stream's gate is still shut; found as
// declared, it is what the first bind takes, with no write. One that
// differs is updated, and only once the stream is made.
func TestConsumerReadWhileItsStreamIsMade(t *testing.T) {
	nc, js := connectJS(t, startServer(t))
	ctx := t.Context()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "TICKS", Subjects: []string{"ticks.>"}}); err != nil {
		t.Fatal(err)
	}
	made, err := js.CreateOrUpdateConsumer(ctx, "TICKS", jetstream.ConsumerConfig{Durable: "ticker-count",
		FilterSubject: "ticks.>", AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: 3})
	if err != nil {
		t.Fatal(err)
	}
	declared := made.CachedInfo().Config // as the server keeps it: nothing to update
	var mu sync.Mutex
	var api []string
	if _, err := nc.Subscribe("$JS.API.CONSUMER.>", func(m *nats.Msg) {
		mu.Lock()
		api = append(api, strings.TrimPrefix(m.Subject, "$JS.API."))
		mu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	seen := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(api)
	}
	prepare := func(cfg jetstream.ConsumerConfig) (gate chan struct{}, loop *consumerLoop) {
		gate = make(chan struct{})
		run := &serviceRun{js: js, logger: slog.New(slog.DiscardHandler), streamMade: map[string]chan struct{}{"TICKS": gate}}
		t.Cleanup(run.background.Wait)
		loop = &consumerLoop{run: run, label: "count", stream: "TICKS", cfg: cfg}
		loop.prepare(ctx)
		return gate, loop
	}
	result := func(loop *consumerLoop) opened {
		select {
		case o := <-*loop.prepared.Load():
			return o
		case <-time.After(10 * time.Second):
			t.Fatal("prepare gave nothing in 10s")
			return opened{}
		}
	}

	gate, loop := prepare(declared)
	waitUntil(t, 10*time.Second, "the consumer read while its stream's gate is shut", func() bool {
		return slices.Contains(seen(), "CONSUMER.INFO.TICKS.ticker-count")
	})
	close(gate)
	if o := result(loop); o.err != nil || o.cons.CachedInfo().Config.MaxDeliver != 3 {
		t.Fatalf("prepared %v, %v; want the consumer as it is", o.cons, o.err)
	}
	if got := seen(); len(got) != 1 {
		t.Fatalf("API calls %v, want the one read", got)
	}

	mu.Lock()
	api = nil
	mu.Unlock()
	changed := declared
	changed.MaxDeliver = 5
	gate, loop = prepare(changed)
	waitUntil(t, 10*time.Second, "the consumer read", func() bool { return len(seen()) == 1 })
	time.Sleep(50 * time.Millisecond)
	if got := seen(); len(got) != 1 {
		t.Fatalf("API calls before the stream was made: %v, want the read alone", got)
	}
	close(gate)
	o := result(loop)
	if o.err != nil || o.cons.CachedInfo().Config.MaxDeliver != 5 {
		t.Fatalf("prepared %v, %v; want the consumer updated to MaxDeliver 5", o.cons, o.err)
	}
	// The test's subscription sees the update's request on its own
	// goroutine, maybe after the update was answered.
	waitUntil(t, 10*time.Second, "the consumer's update", func() bool {
		return slices.ContainsFunc(seen(), func(s string) bool { return strings.HasPrefix(s, "CONSUMER.CREATE.TICKS.ticker-count") })
	})
}
