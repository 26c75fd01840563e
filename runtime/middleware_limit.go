package runtime

import (
	"context"
	"fmt"
)

// LimitBytes rejects a payload over n bytes with a 413 before anything
// decodes it. n <= 0 means no limit.
func LimitBytes(n int) Middleware {
	return func(next Handler) Handler {
		if n <= 0 {
			return next
		}
		return HandlerFunc(func(ctx context.Context, m *Message) ([]byte, error) {
			if len(m.Data) > n {
				return nil, fmt.Errorf("payload of %d bytes is over the %d byte limit: %w", len(m.Data), n, ErrTooLarge)
			}
			return next.Handle(ctx, m)
		})
	}
}
