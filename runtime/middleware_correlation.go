package runtime

import (
	"context"
)

// Correlate takes the correlation id from the X-Correlation-ID header. When
// there is none, Message.CorrelationID makes one on first use, so every log
// line and emitted event of one flow carries the same id.
func Correlate() Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, m *Message) ([]byte, error) {
			if v := m.HeaderValue(HeaderCorrelationID); v != "" {
				m.SetCorrelationID(v)
			}
			return next.Handle(ctx, m)
		})
	}
}
