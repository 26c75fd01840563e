package runtime

import (
	"context"
	"strings"
	"unicode/utf8"
)

// Schema validates a JSON document before a handler sees it.
// *contracts.Schema implements it.
type Schema interface {
	// ID names the schema and its version, e.g. "orders.create.request.v1".
	ID() string
	// Validate reports why doc does not conform, or nil.
	Validate(doc []byte) error
}

// validated refuses with a 400, before the handler decodes anything, a
// payload that is not UTF-8 (Go's decoder would store U+FFFD in its place),
// a request whose X-Correlation-ID is not 1 to 128 visible ASCII
// characters, and a payload its schema rejects. An empty request counts as
// {} for the schema, so `nats req svc.get ”` works where nothing is
// required.
func validated() Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, m *Message) ([]byte, error) {
			if !utf8.Valid(m.Data) {
				return nil, Errorf(ErrInvalid, "payload is not valid UTF-8")
			}
			if m.Kind == KindRequest {
				if v := m.HeaderValue(HeaderCorrelationID); v != "" && !validCorrelationID(v) {
					return nil, Errorf(ErrInvalid, "header %s: %d bytes; it must be 1 to %d visible ASCII characters",
						HeaderCorrelationID, len(v), maxCorrelationID)
				}
			}
			if r, ok := m.Schema.(messageReader); ok {
				// An event: read as its producer sent it, converted to
				// the handler's major.
				if err := r.read(m); err != nil {
					if msg := err.Error(); !strings.HasPrefix(msg, m.Schema.ID()) {
						return nil, Errorf(ErrInvalid, "%s: %w", m.Schema.ID(), err)
					}
					return nil, Errorf(ErrInvalid, "%w", err)
				}
			} else if m.Schema != nil {
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
