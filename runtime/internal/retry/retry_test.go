package retry_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime/embedded"
	"github.com/natsfn/natsfn/runtime/internal/retry"
)

func TestTransient(t *testing.T) {
	api := func(code int, errCode jetstream.ErrorCode) error {
		return fmt.Errorf("nats: %w", &jetstream.APIError{Code: code, ErrorCode: errCode, Description: "x"})
	}
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"attempt timed out", context.DeadlineExceeded, true},
		{"nats timeout", nats.ErrTimeout, true},
		{"async publish ack timeout", jetstream.ErrAsyncPublishTimeout, true},
		{"no responders", nats.ErrNoResponders, true},
		{"no stream response, wrapped", fmt.Errorf("kv put: %w", jetstream.ErrNoStreamResponse), true},
		{"reconnecting", nats.ErrConnectionReconnecting, true},
		{"disconnected", nats.ErrDisconnected, true},
		{"not leader 500", api(500, 10009), true},
		{"temporarily unavailable 503", api(503, 10008), true},
		{"too many inflight 429", api(429, 10210), true},
		{"no suitable peers 10005", api(400, 10005), true},
		{"msg id in process 10158", api(409, 10158), true},
		{"batch incomplete 10176", api(400, 10176), true},
		{"subject in flight 10164", api(400, 10164), true},
		{"cancelled", context.Canceled, false},
		{"cancelled, wrapped", fmt.Errorf("op: %w", context.Canceled), false},
		{"connection closed", nats.ErrConnectionClosed, false},
		{"wrong last sequence 10071", api(400, 10071), false},
		{"key exists", jetstream.ErrKeyExists, false},
		{"stream not found", jetstream.ErrStreamNotFound, false},
		{"permissions", errors.New("nats: permissions violation for publish to \"x\""), false},
		{"plain error", errors.New("boom"), false},
	}
	for _, c := range cases {
		if got := retry.Transient(c.err); got != c.want {
			t.Errorf("%s: Transient(%v) = %v, want %v", c.name, c.err, got, c.want)
		}
	}
}

func TestDoRetriesTransientUntilSuccess(t *testing.T) {
	p := retry.Policy{Initial: time.Millisecond, Max: 2 * time.Millisecond}
	calls := 0
	err := p.Do(context.Background(), func(context.Context) error {
		calls++
		if calls < 4 {
			return nats.ErrNoResponders
		}
		return nil
	})
	if err != nil || calls != 4 {
		t.Fatalf("Do = %v after %d calls, want nil after 4", err, calls)
	}
}

func TestDoStopsAtPermanentError(t *testing.T) {
	calls := 0
	boom := errors.New("boom")
	err := retry.Policy{}.Do(context.Background(), func(context.Context) error {
		calls++
		return boom
	})
	if !errors.Is(err, boom) || calls != 1 {
		t.Fatalf("Do = %v after %d calls, want boom after 1", err, calls)
	}
}

// TestDoStopsAtDeadline: no attempt starts after the caller's deadline, the
// loop returns before it, and the last error says how many attempts ran.
func TestDoStopsAtDeadline(t *testing.T) {
	p := retry.Policy{Initial: 20 * time.Millisecond, Max: 40 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	deadline, _ := ctx.Deadline()
	var starts []time.Time
	err := p.Do(ctx, func(context.Context) error {
		starts = append(starts, time.Now())
		return nats.ErrNoResponders
	})
	if !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("Do = %v, want the last attempt's error", err)
	}
	if time.Now().After(deadline.Add(150 * time.Millisecond)) { // scheduling slack on a busy machine
		t.Errorf("Do returned %v after the deadline", time.Since(deadline))
	}
	if len(starts) < 5 {
		t.Errorf("only %d attempts in 300 ms with waits of 10-40 ms", len(starts))
	}
	for i, s := range starts {
		if s.After(deadline) {
			t.Errorf("attempt %d started %v after the deadline", i+1, s.Sub(deadline))
		}
	}
	if want := fmt.Sprintf("(gave up after %d attempts)", len(starts)); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say %q", err, want)
	}
}

// TestDoBoundsEachAttempt: an attempt that hangs is cut at Attempt and
// retried, instead of eating the whole deadline.
func TestDoBoundsEachAttempt(t *testing.T) {
	p := retry.Policy{Initial: time.Millisecond, Attempt: 50 * time.Millisecond}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	calls := 0
	start := time.Now()
	err := p.Do(ctx, func(actx context.Context) error {
		calls++
		if calls == 1 {
			<-actx.Done() // a request nobody answers
			return actx.Err()
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Fatalf("Do = %v after %d calls, want nil after 2", err, calls)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the hung attempt held the loop for %v; Attempt is 50ms", d)
	}
}

// TestDoBudgetWithoutDeadline: a context without a deadline still ends.
func TestDoBudgetWithoutDeadline(t *testing.T) {
	p := retry.Policy{Initial: time.Millisecond, Max: 5 * time.Millisecond, Budget: 100 * time.Millisecond}
	start := time.Now()
	err := p.Do(context.Background(), func(context.Context) error { return nats.ErrTimeout })
	if !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("Do = %v, want ErrTimeout", err)
	}
	if d := time.Since(start); d < 70*time.Millisecond || d > time.Second {
		t.Errorf("Do gave up after %v, want about the 100ms budget", d)
	}
}

func TestDoDoesNotStartAfterCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	err := retry.Policy{}.Do(ctx, func(context.Context) error { called = true; return nil })
	if called || !errors.Is(err, context.Canceled) {
		t.Fatalf("Do on a cancelled context: called=%v err=%v", called, err)
	}
}

// TestDoRidesOutAMissingStream publishes to a subject before any stream
// listens on it, against a real server: the first attempts get "no
// responders", then a stream appears and the publish lands.
func TestDoRidesOutAMissingStream(t *testing.T) {
	js := newJetStream(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		time.Sleep(300 * time.Millisecond)
		if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "LATE", Subjects: []string{"late.>"}}); err != nil {
			t.Error(err)
		}
	}()
	attempts := 0
	err := retry.Policy{Initial: 20 * time.Millisecond}.Do(ctx, func(ctx context.Context) error {
		attempts++
		_, err := js.Publish(ctx, "late.x", []byte("hi"), jetstream.WithRetryAttempts(0), jetstream.WithMsgID("m-1"))
		return err
	})
	wg.Wait()
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if attempts < 2 {
		t.Errorf("published at the first attempt; the stream was meant to be missing")
	}
	st, err := js.Stream(ctx, "LATE")
	if err != nil {
		t.Fatal(err)
	}
	if n := st.CachedInfo().State.Msgs; n != 1 {
		t.Errorf("stream holds %d messages, want 1", n)
	}
}

// TestAPICode: the JetStream error code of an API error, wrapped or not;
// 0 for any other error.
func TestAPICode(t *testing.T) {
	api := &jetstream.APIError{Code: 400, ErrorCode: retry.CodeBatchDuplicate}
	for _, c := range []struct {
		err  error
		want jetstream.ErrorCode
	}{
		{api, retry.CodeBatchDuplicate},
		{fmt.Errorf("commit: %w", api), retry.CodeBatchDuplicate},
		{errors.New("other"), 0},
		{nil, 0},
	} {
		if got := retry.APICode(c.err); got != c.want {
			t.Errorf("APICode(%v) = %d, want %d", c.err, got, c.want)
		}
	}
}

// newJetStream starts an embedded server with JetStream and returns a
// JetStream context on a connection to it; both end with the test.
func newJetStream(t *testing.T) jetstream.JetStream {
	t.Helper()
	srv, err := embedded.Start(embedded.Config{Port: -1, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}
