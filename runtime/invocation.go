package runtime

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// invocation is what a handler's context carries: its message and running
// instance, the emit counters that make Nats-Msg-Id deterministic, and the
// context of the handler's span (set by the tracing middleware when
// tracing is on).
//
// It is the handler's context itself, so that one allocation holds the
// context, the invocation and its message. It has the values of the
// instance's base context and none of its cancellation: a handler runs to
// its end (or its Timeout) during a graceful shutdown, and a context
// derived from it (the Timeout middleware's) costs no registration with a
// cancellable parent.
type invocation struct {
	context.Context
	message Message
	msg     *Message
	run     *serviceRun
	ev      *eventRun
	span    trace.SpanContext
	// emits are the subjects the handler declared (Emits), nil if none.
	emits []string

	mu  sync.Mutex
	seq map[string]int
}

type invocationKey struct{}

// newInvocation returns a handler context for one message of the instance
// (of event handler ev, or nil for a request) whose handler declared it
// emits the subjects emits.
func (r *serviceRun) newInvocation(ev *eventRun, emits []string) *invocation {
	inv := &invocation{Context: r.base, run: r, ev: ev, emits: emits}
	inv.msg = &inv.message
	return inv
}

// Deadline, Done and Err detach a handler from the base context's
// cancellation, as context.WithoutCancel would. WithoutCancel's context
// boxes itself into an interface on every Value lookup that reaches it: 3
// allocations per traced request in BenchmarkChain, which this saves.

// Deadline reports none: the Timeout middleware sets a handler's.
func (inv *invocation) Deadline() (time.Time, bool) { return time.Time{}, false }

// Done is nil: nothing but a deadline derived from it ends a handler.
func (inv *invocation) Done() <-chan struct{} { return nil }

// Err is nil, as Done never closes.
func (inv *invocation) Err() error { return nil }

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
