package runtime

import (
	"context"
	"encoding/json"
	"fmt"
)

// Func is the one handler shape both trigger kinds serve: a typed input, a
// typed output and an error. Event handlers return None.
type Func[In, Out any] func(ctx context.Context, in In) (Out, error)

// None is the output of a handler that replies with nothing, such as an
// event handler.
type None = struct{}

// Handler is the untyped form every trigger runs: a raw message in, a raw
// reply out. Middleware wraps Handlers.
type Handler interface {
	Handle(ctx context.Context, m *Message) ([]byte, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, m *Message) ([]byte, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, m *Message) ([]byte, error) { return f(ctx, m) }

// Middleware wraps a Handler with one concern.
type Middleware func(Handler) Handler

// Chain composes middleware so that the first one is the outermost.
func Chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// typed turns a Func into the innermost Handler: JSON in, JSON out. An empty
// payload is the zero input when no schema demands more.
func typed[In, Out any](fn Func[In, Out]) Handler {
	return HandlerFunc(func(ctx context.Context, m *Message) ([]byte, error) {
		var in In
		if len(m.Data) > 0 || m.Schema != nil {
			if err := json.Unmarshal(m.Data, &in); err != nil {
				return nil, Errorf(ErrInvalid, "malformed JSON: %v", err)
			}
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		if m.Kind == KindEvent {
			return nil, nil
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, fmt.Errorf("encode reply: %v: %w", err, ErrInternal)
		}
		return b, nil
	})
}
