package runtime

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
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
