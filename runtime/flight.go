package runtime

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// emitFlight is a handler's emits still awaiting their PubAck. The
// invocation's mu guards it.
type emitFlight struct {
	pending int
	// err is the first of the handler's pipelined emits that failed for
	// good (a synchronous emit's failure goes to its caller).
	err error
	// idle is closed when pending drops to 0; a waiter makes it.
	idle chan struct{}
	// returned is set once the handler returned: no emit starts after.
	returned bool
	// settle is set while an event delivery waits for its emits to settle
	// it, with the handler's error (herr) or the emits'.
	settle bool
	herr   error
}

// emitStarted counts an emit in, unless the handler has returned.
func (inv *invocation) emitStarted() error {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if inv.flight.returned {
		return fmt.Errorf("runtime.Emit after the handler %s returned: %w", inv.msg.Handler, ErrInternal)
	}
	inv.flight.pending++
	return nil
}

// emitDone counts an emit out. A pipelined emit that failed ends the
// handler's context, so that the handler's next step fails as it would
// have after a synchronous Emit.
func (inv *invocation) emitDone(err error, async bool) {
	inv.mu.Lock()
	f := &inv.flight
	f.pending--
	if err != nil && async && f.err == nil {
		f.err = err
		inv.endLocked(context.Canceled)
	}
	if f.pending > 0 {
		inv.mu.Unlock()
		return
	}
	if f.idle != nil {
		close(f.idle)
		f.idle = nil
	}
	settle := f.settle
	f.settle = false
	final := f.final()
	inv.mu.Unlock()
	switch {
	case !settle:
	case final == nil && inv.replay == nil:
		inv.ev.settled(inv, nil) // an ack: cheap enough for the PubAck's callback
	default:
		// A failure may store a dead letter, and a replay's ack deletes
		// it: round trips the callback, which resolves every other emit,
		// must not wait for.
		go inv.ev.settled(inv, final)
	}
}

// final is the outcome of a handler and its emits: the handler's error,
// unless it only reports the context an emit's failure ended.
func (f *emitFlight) final() error {
	if f.herr == nil || (f.err != nil && errors.Is(f.herr, context.Canceled)) {
		return f.err
	}
	return f.herr
}

// finish records that the handler returned herr and, for an event
// delivery, settles its message once its emits are resolved: at once when
// none is pending, else from the last one's callback.
func (inv *invocation) finish(herr error) {
	inv.mu.Lock()
	f := &inv.flight
	f.returned = true
	f.herr = herr
	if inv.held != nil && f.pending > 0 {
		f.settle = true
		inv.mu.Unlock()
		return
	}
	final := f.final()
	inv.mu.Unlock()
	if inv.held != nil {
		inv.ev.settled(inv, final)
	}
}

// awaitEmits waits until none of the handler's emits is pending, or its
// bound passes, and returns the first pipelined emit's failure.
func (inv *invocation) awaitEmits() error {
	inv.mu.Lock()
	f := &inv.flight
	if f.pending == 0 {
		err := f.err
		inv.mu.Unlock()
		return err
	}
	if f.idle == nil {
		f.idle = make(chan struct{})
	}
	idle := f.idle
	inv.mu.Unlock()
	if inv.bound.IsZero() {
		<-idle
	} else {
		t := time.NewTimer(time.Until(inv.bound))
		select {
		case <-idle:
		case <-t.C:
		}
		t.Stop()
	}
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if f.pending > 0 && f.err == nil {
		return fmt.Errorf("%d emits not acknowledged by the handler's deadline: %w", f.pending, context.DeadlineExceeded)
	}
	return f.err
}

// Flush waits until every event the current handler emitted is stored,
// and returns the first that could not be. In an event handler, Emit does
// not wait for the stream (the message is acked once all of them are
// stored); a handler's context waits for them before it answers Err or
// Done, which every NATS, KV and HTTP call asks before it starts (Request
// flushes first too). Call Flush before a step that depends on an emit and
// uses no context, or a context made before the Emit:
//
//	if err := runtime.Emit(ctx, contracts.OrderConfirmed, ev); err != nil {
//		return err
//	}
//	if err := runtime.Flush(ctx); err != nil {
//		return err // not stored: the message is retried
//	}
//	announced[ev.OrderID] = true // an in-memory record, which takes no context
//
// Outside a handler it does nothing.
func Flush(ctx context.Context) error {
	inv := invocationFrom(ctx)
	if inv == nil {
		return nil
	}
	return inv.awaitEmits()
}
