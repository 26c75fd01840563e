package runtime

import (
	"context"
)

// limitBytes rejects a payload over n bytes with a 413 before anything
// decodes it. n <= 0 means no limit.
func limitBytes(n int) Middleware {
	return func(next Handler) Handler {
		if n <= 0 {
			return next
		}
		return HandlerFunc(func(ctx context.Context, m *Message) ([]byte, error) {
			if len(m.Data) > n {
				return nil, Errorf(ErrTooLarge, "payload of %d bytes is over the %d byte limit", len(m.Data), n)
			}
			return next.Handle(ctx, m)
		})
	}
}
