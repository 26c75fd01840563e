package runtime

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestTimeoutMiddleware: under a parent that is never cancelled the bound
// is lazy but real; under a cancellable one, the parent's cancel reaches
// the handler too.
func TestTimeoutMiddleware(t *testing.T) {
	wait := HandlerFunc(func(ctx context.Context, m *Message) ([]byte, error) {
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > 100*time.Millisecond {
			return nil, errors.New("no deadline")
		}
		if ctx.Err() != nil {
			return nil, errors.New("done too early")
		}
		<-ctx.Done()
		return nil, ctx.Err()
	})
	h := timeout(50 * time.Millisecond)(wait)
	start := time.Now()
	_, err := h.Handle(context.Background(), &Message{})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) < 45*time.Millisecond {
		t.Fatalf("lazy: %v after %s", err, time.Since(start))
	}

	parent, cancel := context.WithCancel(context.Background())
	time.AfterFunc(10*time.Millisecond, cancel)
	h = timeout(time.Minute)(HandlerFunc(func(ctx context.Context, m *Message) ([]byte, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}))
	if _, err := h.Handle(parent, &Message{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancellable parent: %v", err)
	}

	// A handler that never looks at its context is not bothered.
	h = timeout(time.Millisecond)(HandlerFunc(func(ctx context.Context, m *Message) ([]byte, error) {
		return []byte("ok"), nil
	}))
	if out, err := h.Handle(context.Background(), &Message{}); err != nil || string(out) != "ok" {
		t.Fatalf("quick handler: %q %v", out, err)
	}
}
