package runtime

import (
	"context"
	"time"
)

// Timeout bounds a handler's context. A handler that overruns sees its
// context cancelled and its error becomes a 503. d <= 0 means no bound.
func Timeout(d time.Duration) Middleware {
	return func(next Handler) Handler {
		if d <= 0 {
			return next
		}
		return HandlerFunc(func(ctx context.Context, m *Message) ([]byte, error) {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			return next.Handle(ctx, m)
		})
	}
}
