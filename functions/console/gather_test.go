package console

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestGatherWaitsForKnownAnswers has one responder answer at once and
// another after several quiet periods, as a loaded machine made an
// instance answer discovery: a gather that expects two (how many answered
// the last time) has both; one that expects nothing, as before, ends at
// the quiet period with one. A responder gone costs knownWait, not the
// whole deadline.
func TestGatherWaitsForKnownAnswers(t *testing.T) {
	srv := fntest.NewServer(t)
	nc := srv.Connect(t)
	const late = 3 * quietPeriod
	respond := func(subject string, after time.Duration) {
		sub, err := nc.Subscribe(subject, func(m *nats.Msg) {
			time.AfterFunc(after, func() { _ = m.Respond([]byte("x")) })
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	respond("test.gather", 0)
	respond("test.gather", late)
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	got, err := gather(ctx, nc, "test.gather", 0, 2)
	if err != nil || len(got) != 2 {
		t.Fatalf("expecting 2: %d answers, %v; want both", len(got), err)
	}
	// Let the late answer of the next gather's request not be the one
	// before's: each gather has its own inbox, so a straggler is dropped.
	got, err = gather(ctx, nc, "test.gather", 0, 0)
	if err != nil || len(got) != 1 {
		t.Fatalf("expecting none: %d answers, %v; want the prompt one only", len(got), err)
	}
	start := time.Now()
	got, err = gather(ctx, nc, "test.gather", 0, 3)
	if took := time.Since(start); err != nil || len(got) != 2 || took > knownWait+time.Second {
		t.Fatalf("expecting 3 of 2: %d answers, %v, after %v; want both within about %v", len(got), err, took, knownWait)
	}
}
