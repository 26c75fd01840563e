package fntest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Eventually polls cond every 10ms until it holds, and fails the test if it
// does not within the given time. Tests of asynchronous flows wait with it
// instead of sleeping.
func Eventually(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Settled waits until a durable consumer has acknowledged every message
// published so far on its filter subjects, with nothing pending. A filter
// with no message yet counts as settled once nothing is pending.
func Settled(t testing.TB, js jetstream.JetStream, stream, consumer string) {
	t.Helper()
	ctx := context.Background()
	var last uint64
	looked := false
	Eventually(t, 30*time.Second, consumer+" settled", func() bool {
		c, err := js.Consumer(ctx, stream, consumer)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		if err != nil {
			return false
		}
		if !looked {
			st, err := js.Stream(ctx, stream)
			if err != nil {
				return false
			}
			filters := info.Config.FilterSubjects
			if info.Config.FilterSubject != "" {
				filters = append(filters, info.Config.FilterSubject)
			}
			for _, f := range filters {
				m, err := st.GetLastMsgForSubject(ctx, f)
				if err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
					return false
				}
				if err == nil {
					last = max(last, m.Sequence)
				}
			}
			looked = true
		}
		return info.AckFloor.Stream >= last && info.NumPending == 0 && info.NumAckPending == 0
	})
}

// Buffer is an io.Writer safe for concurrent use, e.g. to capture the logs
// of running functions: Config.Logger = slog.New(slog.NewJSONHandler(&buf, nil)).
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
