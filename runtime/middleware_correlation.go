package runtime

import (
	"context"

	"github.com/google/uuid"
)

// Correlate fills Message.CorrelationID from the X-Correlation-ID header, or
// makes a new one when the message has none, so every log line and emitted
// event of one flow carries the same id.
func Correlate() Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, m *Message) ([]byte, error) {
			if m.CorrelationID == "" {
				m.CorrelationID = m.HeaderValue(HeaderCorrelationID)
			}
			if m.CorrelationID == "" {
				m.CorrelationID = uuid.NewString()
			}
			return next.Handle(ctx, m)
		})
	}
}
