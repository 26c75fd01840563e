package runtime

import (
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
