package runtime

import (
	"context"
	"errors"
	"fmt"
)

// mapErrors normalizes what a handler returns so that the edge can map it to
// a code: a deadline or cancellation becomes ErrUnavailable, and anything the
// runtime cannot classify stays a 500.
func mapErrors() Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, m *Message) ([]byte, error) {
			out, err := next.Handle(ctx, m)
			if err == nil {
				return out, nil
			}
			if errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ErrUnavailable) {
				return nil, fmt.Errorf("%s timed out: %w: %w", m.Handler, err, ErrUnavailable)
			}
			return nil, err
		})
	}
}
