package runtime

import (
	"context"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
)

// invocation is what a handler's context carries: its message and running
// instance, its bound, the emit counters that make Nats-Msg-Id
// deterministic, the emits still awaiting their PubAck, and the context of
// the handler's span (set by the tracing middleware when tracing is on).
//
// It is the handler's context itself, so that one allocation holds the
// context, the invocation and its message. It has the values of the
// instance's base context and none of its cancellation: a handler runs to
// its end (or its bound) during a graceful shutdown. Its deadline is the
// handler's bound: a request's deadline less a margin (deadline.go), or an
// event handler's WithTimeout after it started.
type invocation struct {
	context.Context
	message Message
	msg     *Message
	run     *serviceRun
	ev      *eventRun
	span    trace.SpanContext
	// emits is what the handler declared it emits (Emits) and where the
	// phases route it; nil outside a handler of a run.
	emits *emitPlan
	// bound is when the handler's context ends; zero for none.
	bound time.Time
	// arrival is when a request reached the instance.
	arrival time.Time

	mu sync.Mutex
	// seq counts the handler's emits by subject (few: a slice beats a map).
	seq      []emitCount
	seqFirst [1]emitCount
	// cause is the triggering message's id, once causeMade.
	cause     string
	causeMade bool
	// err is set once the context ends: DeadlineExceeded at the bound,
	// Canceled when an emit failed for good (emitErr says why).
	err   error
	done  chan struct{}
	timer *time.Timer
	after []*afterFunc
	// flight tracks the handler's emits; see flight.go.
	flight emitFlight

	// An event delivery's message until it is settled, its replay (nil
	// for a delivery of the handler's own consumer), and its place among
	// the messages the handler holds (keepalive.go).
	held               jetstream.Msg
	replay             *replayed
	heldSince          time.Time
	prevHeld, nextHeld *invocation
}

type invocationKey struct{}

// newInvocation returns a handler context for one message of the instance
// (of event handler ev, or nil for a request) whose handler declared it
// emits as plan says.
func (r *serviceRun) newInvocation(ev *eventRun, emits *emitPlan) *invocation {
	inv := &invocation{Context: r.base, run: r, ev: ev, emits: emits}
	inv.msg = &inv.message
	return inv
}

// Deadline reports the handler's bound.
func (inv *invocation) Deadline() (time.Time, bool) { return inv.bound, !inv.bound.IsZero() }

// Done returns a channel closed at the handler's bound, or when one of its
// emits failed for good. It is made, and its timer armed, on the first
// call: most handlers that only compute never ask, and a timer per
// message was about 5% of a small endpoint's throughput. Like Err, it
// first waits for the handler's emits in flight (see Emit).
func (inv *invocation) Done() <-chan struct{} {
	inv.awaitEmits()
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.done == nil {
		inv.done = make(chan struct{})
		switch left := time.Until(inv.bound); {
		case inv.err != nil:
			close(inv.done)
		case inv.bound.IsZero():
		case left <= 0:
			inv.endLocked(context.DeadlineExceeded)
		default:
			inv.timer = time.AfterFunc(left, func() { inv.end(context.DeadlineExceeded) })
		}
	}
	return inv.done
}

// Err is DeadlineExceeded once the bound passed, Canceled once an emit
// failed for good, and nil before. It first waits for the handler's emits
// in flight, so that the handler's next call (every NATS, KV and HTTP
// client asks its context before it starts) never runs before them.
func (inv *invocation) Err() error {
	inv.awaitEmits()
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.err == nil && !inv.bound.IsZero() && !time.Now().Before(inv.bound) {
		inv.endLocked(context.DeadlineExceeded)
	}
	return inv.err
}

// Value finds the invocation itself, and everything else in its parent.
func (inv *invocation) Value(key any) any {
	if key == (invocationKey{}) {
		return inv
	}
	return inv.Context.Value(key)
}

// AfterFunc runs f once the context ends, and saves a context derived from
// it (context.WithTimeout(ctx, ...)) the goroutine the context package
// would otherwise start to watch Done.
func (inv *invocation) AfterFunc(f func()) (stop func() bool) {
	a := &afterFunc{f: f}
	inv.mu.Lock()
	if inv.err != nil {
		inv.mu.Unlock()
		a.once.Do(func() { go f() })
		return func() bool { return false }
	}
	inv.after = append(inv.after, a)
	inv.mu.Unlock()
	return func() bool {
		stopped := false
		a.once.Do(func() { stopped = true })
		return stopped
	}
}

type afterFunc struct {
	f    func()
	once sync.Once
}

// end ends the context with err, unless it has ended.
func (inv *invocation) end(err error) {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.endLocked(err)
}

func (inv *invocation) endLocked(err error) {
	if inv.err != nil {
		return
	}
	inv.err = err
	if inv.done != nil {
		close(inv.done)
	}
	for _, a := range inv.after {
		a.once.Do(func() { go a.f() })
	}
	inv.after = nil
}

// release stops the bound's timer once the message is settled.
func (inv *invocation) release() {
	inv.mu.Lock()
	if inv.timer != nil {
		inv.timer.Stop()
	}
	inv.mu.Unlock()
}

// expired reports whether the handler's bound has passed, without waiting
// for its emits as Err does.
func (inv *invocation) expired() bool {
	return !inv.bound.IsZero() && !time.Now().Before(inv.bound)
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
