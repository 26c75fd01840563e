package runtime

import (
	"context"
	"sync"

	"go.opentelemetry.io/otel/trace"
)

// invocation is what a handler's context carries: its message and running
// instance, the emit counters that make Nats-Msg-Id deterministic, and the
// context of the handler's span (set by the tracing middleware when
// tracing is on).
//
// It is the handler's context itself, so that one allocation holds the
// context, the invocation and its message. Its parent is the instance's
// base context without its cancellation: a handler runs to its end (or its
// Timeout) during a graceful shutdown, and a context derived from it (the
// Timeout middleware's) costs no registration with a cancellable parent.
type invocation struct {
	context.Context
	message Message
	msg     *Message
	run     *serviceRun
	ev      *eventRun
	span    trace.SpanContext

	mu  sync.Mutex
	seq map[string]int
}

type invocationKey struct{}

// newInvocation returns a handler context for one message of the instance
// (of event handler ev, or nil for a request).
func (r *serviceRun) newInvocation(ev *eventRun) *invocation {
	inv := &invocation{Context: r.handlerCtx, run: r, ev: ev}
	inv.msg = &inv.message
	return inv
}

// Value finds the invocation itself, and everything else in its parent.
func (inv *invocation) Value(key any) any {
	if key == (invocationKey{}) {
		return inv
	}
	return inv.Context.Value(key)
}

func invocationFrom(ctx context.Context) *invocation {
	inv, _ := ctx.Value(invocationKey{}).(*invocation)
	return inv
}

// runKey finds the running instance in the context OnStart hooks and
// openers get.
type runKey struct{}

// runFrom returns the running instance of a handler's context or of an
// OnStart hook's, or nil elsewhere: how runtime code (Emit, Pause, a
// runtime-owned bucket) reaches the instance's JetStream, replicas, tracer
// and logger.
func runFrom(ctx context.Context) *serviceRun {
	if inv := invocationFrom(ctx); inv != nil {
		return inv.run
	}
	r, _ := ctx.Value(runKey{}).(*serviceRun)
	return r
}
