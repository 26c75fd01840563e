package retry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// ExistingStream looks up a stream the server has just said exists: a
// create of it was answered "already in use". In a cluster only the meta
// leader answers a stream info with "not found", from its own assignments
// (nats-server v2.15.3, jsStreamInfoRequest), and a meta leader elected a
// moment ago may not have applied the stream's creation yet. So a "not
// found" here is asked again, 25 ms later, then 50 ms..., and a last time
// when wait is over; only that answer is believed. When ctx ends first,
// the error wraps both ctx's and the last "not found", so that Transient
// lets a caller's own retry try again.
func ExistingStream(ctx context.Context, js jetstream.JetStream, name string, wait time.Duration) (jetstream.Stream, error) {
	deadline := time.Now().Add(wait)
	for pause := 25 * time.Millisecond; ; pause = min(2*pause, time.Second) {
		st, err := js.Stream(ctx, name)
		left := time.Until(deadline)
		if !errors.Is(err, jetstream.ErrStreamNotFound) || left <= 0 {
			return st, err
		}
		// Not cut short when the next pause would overrun wait: under load
		// the asks themselves are slow, and giving up then believed a "not
		// found" after half the wait (CI: 206 ms of 400).
		t := time.NewTimer(min(pause, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}
