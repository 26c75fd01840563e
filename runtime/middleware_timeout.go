package runtime

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// timeout bounds a handler's context. A handler that overruns sees its
// context done and its error becomes a 503. d <= 0 means no bound.
//
// The bound costs nothing until the handler looks at ctx.Done(): most
// handlers that only compute never do, and a per-message timer was about 5%
// of a small endpoint's throughput. A handler that waits (on NATS, HTTP...)
// selects on Done, and only then is a timer armed.
func timeout(d time.Duration) Middleware {
	return func(next Handler) Handler {
		if d <= 0 {
			return next
		}
		return HandlerFunc(func(ctx context.Context, m *Message) ([]byte, error) {
			if ctx.Done() != nil {
				// A cancellable parent: let the context package propagate it.
				ctx, cancel := context.WithTimeout(ctx, d)
				defer cancel()
				return next.Handle(ctx, m)
			}
			lazy := &lazyDeadline{Context: ctx, deadline: time.Now().Add(d)}
			defer lazy.stop()
			return next.Handle(lazy, m)
		})
	}
}

// lazyDeadline is a context with a deadline under a parent that is never
// cancelled. Its Done channel, and the timer that closes it, are made on the
// first call to Done or Err.
type lazyDeadline struct {
	context.Context
	deadline time.Time
	once     sync.Once
	done     chan struct{}
	timer    atomic.Pointer[time.Timer]
}

// Deadline returns the bound.
func (c *lazyDeadline) Deadline() (time.Time, bool) { return c.deadline, true }

// Done returns a channel closed at the deadline.
func (c *lazyDeadline) Done() <-chan struct{} {
	c.once.Do(func() {
		c.done = make(chan struct{})
		left := time.Until(c.deadline)
		if left <= 0 {
			close(c.done)
			return
		}
		c.timer.Store(time.AfterFunc(left, func() { close(c.done) }))
	})
	return c.done
}

// Err is context.DeadlineExceeded once Done is closed.
func (c *lazyDeadline) Err() error {
	select {
	case <-c.Done():
		return context.DeadlineExceeded
	default:
		return nil
	}
}

// stop releases the timer when the handler returns early.
func (c *lazyDeadline) stop() {
	if t := c.timer.Load(); t != nil {
		t.Stop()
	}
}
