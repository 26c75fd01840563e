package kvretry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{nil, false},
		{context.Canceled, false},
		{jetstream.ErrKeyExists, false},
		{fmt.Errorf("update: %w", jetstream.ErrKeyRevisionMismatch), false},
		{jetstream.ErrKeyNotFound, false},
		{errors.New("nats: permissions violation"), false},
		{&jetstream.APIError{Code: 400, ErrorCode: 10071}, false},
		{context.DeadlineExceeded, true},
		{nats.ErrTimeout, true},
		{fmt.Errorf("put: %w", nats.ErrNoResponders), true},
		{jetstream.ErrNoStreamResponse, true},
		{nats.ErrConnectionReconnecting, true},
		{&jetstream.APIError{Code: 503, ErrorCode: 10077}, true},
		{&jetstream.APIError{Code: 400, ErrorCode: 10164}, true},
		{&jetstream.APIError{Code: 429}, true},
	} {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("Transient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// TestDoRetriesUntilItWorks: a call that fails for a reason that passes is
// made again until it succeeds.
func TestDoRetriesUntilItWorks(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	calls := 0
	err := Do(ctx, func(context.Context) error {
		calls++
		if calls < 4 {
			return nats.ErrNoResponders
		}
		return nil
	})
	if err != nil || calls != 4 {
		t.Fatalf("err %v after %d calls, want nil after 4", err, calls)
	}
}

// TestDoStopsOnAnAnswer: a lost compare-and-swap is not retried.
func TestDoStopsOnAnAnswer(t *testing.T) {
	calls := 0
	err := Do(t.Context(), func(context.Context) error {
		calls++
		return jetstream.ErrKeyExists
	})
	if !errors.Is(err, jetstream.ErrKeyExists) || calls != 1 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}

// TestDoKeepsToTheDeadline: the loop gives up before the deadline, with
// the last error, and starts no attempt after it.
func TestDoKeepsToTheDeadline(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	deadline, _ := ctx.Deadline()
	var last time.Time
	err := Do(ctx, func(context.Context) error {
		last = time.Now()
		return nats.ErrNoResponders
	})
	if !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("err %v", err)
	}
	if last.After(deadline) {
		t.Fatalf("an attempt started %s after the deadline", last.Sub(deadline))
	}
}
