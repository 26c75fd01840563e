package runtime

import (
	"context"
	"encoding/json"
	"fmt"
)

// Func is the shape of an endpoint: a typed request in, a typed reply out,
// and an error. An event handler is the same without the reply:
// func(ctx context.Context, in In) error.
type Func[In, Out any] func(ctx context.Context, in In) (Out, error)

// Handler is the untyped form every trigger runs: a raw message in, a raw
// reply out. Middleware wraps Handlers.
type Handler interface {
	Handle(ctx context.Context, m *Message) ([]byte, error)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, m *Message) ([]byte, error)

// Handle calls f.
func (f HandlerFunc) Handle(ctx context.Context, m *Message) ([]byte, error) { return f(ctx, m) }

// Middleware wraps a Handler with one concern. Service.Use adds one to a
// service's chain.
type Middleware func(Handler) Handler

// chain composes middleware so that the first one is the outermost.
func chain(h Handler, mws ...Middleware) Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// typed turns a Func into the innermost Handler: JSON in, JSON out.
func typed[In, Out any](fn Func[In, Out]) Handler {
	return HandlerFunc(func(ctx context.Context, m *Message) ([]byte, error) {
		in, err := decode[In](m)
		if err != nil {
			return nil, err
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		b, err := json.Marshal(out)
		if err != nil {
			return nil, fmt.Errorf("encode reply: %v: %w", err, ErrInternal)
		}
		return b, nil
	})
}

// typedEvent turns an event handler into the innermost Handler.
func typedEvent[In any](fn func(context.Context, In) error) Handler {
	return HandlerFunc(func(ctx context.Context, m *Message) ([]byte, error) {
		in, err := decode[In](m)
		if err != nil {
			return nil, err
		}
		return nil, fn(ctx, in)
	})
}
