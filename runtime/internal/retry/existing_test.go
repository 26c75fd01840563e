package retry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime/internal/retry"
)

// TestExistingStreamWaitsOutNotFound: a stream that a lookup first says
// is missing (as a lagging meta leader would) is found once it is there,
// and one that never appears is "not found" after the wait.
func TestExistingStreamWaitsOutNotFound(t *testing.T) {
	js := newJetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	made := make(chan error, 1)
	time.AfterFunc(300*time.Millisecond, func() {
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "LATE", Subjects: []string{"late.>"}})
		made <- err
	})
	start := time.Now()
	st, err := retry.ExistingStream(ctx, js, "LATE", 5*time.Second)
	if err != nil || st.CachedInfo().Config.Name != "LATE" {
		t.Fatalf("lookup: %v", err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("found after %s, before the stream was made", took)
	}
	if err := <-made; err != nil {
		t.Fatal(err)
	}

	start = time.Now()
	_, err = retry.ExistingStream(ctx, js, "NEVER", 400*time.Millisecond)
	// Believed only after the whole wait: the last ask is at its end.
	if !errors.Is(err, jetstream.ErrStreamNotFound) || time.Since(start) < 400*time.Millisecond || time.Since(start) > 2*time.Second {
		t.Fatalf("a stream that never appears: %v after %s, want not found after 400ms", err, time.Since(start))
	}
	short, cancelShort := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancelShort()
	_, err = retry.ExistingStream(short, js, "NEVER", 5*time.Second)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, jetstream.ErrStreamNotFound) || !retry.Transient(err) {
		t.Fatalf("ctx ending first: %v, want its deadline and the last not found, transient", err)
	}
}
