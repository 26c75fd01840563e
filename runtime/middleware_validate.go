package runtime

import (
	"context"
	"strings"
)

// Schema validates a JSON document before a handler sees it.
// *contracts.Schema implements it.
type Schema interface {
	// ID names the schema and its version, e.g. "orders.create.request.v1".
	ID() string
	// Validate reports why doc does not conform, or nil.
	Validate(doc []byte) error
}

// Validate checks the payload against the message's schema, when it has one,
// and rejects it with a 400 before the handler decodes it. An empty request
// counts as {}, so `nats req svc.get ”` works where nothing is required.
func Validate() Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, m *Message) ([]byte, error) {
			if m.Schema != nil {
				if len(m.Data) == 0 && m.Kind == KindRequest {
					m.Data = []byte("{}")
				}
				if err := m.Schema.Validate(m.Data); err != nil {
					// Name the schema, unless its error does already.
					if msg := err.Error(); !strings.HasPrefix(msg, m.Schema.ID()) {
						return nil, Errorf(ErrInvalid, "%s: %w", m.Schema.ID(), err)
					}
					return nil, Errorf(ErrInvalid, "%w", err)
				}
			}
			return next.Handle(ctx, m)
		})
	}
}
