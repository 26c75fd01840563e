package runtime

import (
	"context"
	"fmt"
	goruntime "runtime"
)

// recovered turns a panic in the handler into a 500 error so that the process
// lives on. The stack is kept in the error for the logs.
func recovered() Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, m *Message) (out []byte, err error) {
			defer func() {
				if r := recover(); r != nil {
					buf := make([]byte, 4096)
					buf = buf[:goruntime.Stack(buf, false)]
					err = &panicError{value: r, stack: string(buf)}
				}
			}()
			return next.Handle(ctx, m)
		})
	}
}

type panicError struct {
	value any
	stack string
}

func (e *panicError) Error() string { return fmt.Sprintf("panic: %v", e.value) }
func (e *panicError) Unwrap() error { return ErrInternal }
