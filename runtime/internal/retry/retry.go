// Package retry decides which NATS and JetStream failures are worth another
// try, and tries again with jittered exponential backoff for as long as the
// caller's deadline allows.
//
// A JetStream stream-leader election after a crash takes 4–9 s on a 3-node
// cluster, so a write that gives up after half a second (nats.go's default:
// two retries 250 ms apart, on "no responders" only) turns every election
// into failed requests. Policy.Do keeps trying until the context's deadline,
// each attempt bounded on its own so that one lost request cannot eat the
// whole budget, and never starts an attempt it has no time left for.
//
// Retrying a write is only safe when the write is idempotent: KV writes and
// publishes carry a Nats-Msg-Id that stays the same across their retries, so
// the stream's duplicate window recognises a retry of a write that landed.
package retry

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy is a backoff schedule. Zero fields take the defaults noted on them,
// so Policy{} is a sensible policy for JetStream calls.
type Policy struct {
	// Initial is the longest wait after the first failure (50 ms). Each
	// further failure doubles it, up to Max.
	Initial time.Duration
	// Max caps one wait (2 s).
	Max time.Duration
	// Attempt bounds one attempt (2 s), within what is left of ctx: a
	// request lost on a dying connection is retried after this rather than
	// after the whole deadline. A negative Attempt leaves it to ctx.
	Attempt time.Duration
	// Budget bounds the whole loop when ctx has no deadline (30 s), so that
	// nothing retries forever. A negative Budget turns that bound off.
	Budget time.Duration
}

// Defaults of a zero Policy.
const (
	defaultInitial = 50 * time.Millisecond
	defaultMax     = 2 * time.Second
	defaultAttempt = 2 * time.Second
	defaultBudget  = 30 * time.Second
)

func (p Policy) withDefaults() Policy {
	if p.Initial <= 0 {
		p.Initial = defaultInitial
	}
	if p.Max <= 0 {
		p.Max = defaultMax
	}
	if p.Max < p.Initial {
		p.Max = p.Initial
	}
	if p.Attempt == 0 {
		p.Attempt = defaultAttempt
	}
	if p.Budget == 0 {
		p.Budget = defaultBudget
	}
	return p
}

// Do calls fn until it succeeds or fails with an error Transient rejects, or
// until ctx ends or has too little time left for the next wait. Each call of
// fn gets a context bounded by Attempt. The error returned is fn's last one,
// which says how many attempts were made when there was more than one.
func (p Policy) Do(ctx context.Context, fn func(context.Context) error) error {
	p = p.withDefaults()
	if _, ok := ctx.Deadline(); !ok && p.Budget > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.Budget)
		defer cancel()
	}
	var err error
	for attempt := 1; ; attempt++ {
		if cerr := ctx.Err(); cerr != nil {
			if err == nil {
				return cerr
			}
			return fmt.Errorf("%w (gave up after %d attempts)", err, attempt-1)
		}
		err = p.try(ctx, fn)
		if err == nil || !Transient(err) {
			return err
		}
		if p.Pause(ctx, attempt) != nil {
			if attempt == 1 {
				return err
			}
			return fmt.Errorf("%w (gave up after %d attempts)", err, attempt)
		}
	}
}

// try runs fn once, bounded by Attempt.
func (p Policy) try(ctx context.Context, fn func(context.Context) error) error {
	if p.Attempt < 0 {
		return fn(ctx)
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= p.Attempt {
		return fn(ctx) // ctx ends first anyway
	}
	actx, cancel := context.WithTimeout(ctx, p.Attempt)
	defer cancel()
	return fn(actx)
}

// minAttempt is the least time worth starting an attempt with: Pause
// gives up rather than wake up with less left before the deadline.
const minAttempt = 10 * time.Millisecond

// Pause waits before retry number attempt (1 after the first failure): a
// random time between half and all of Initial·2^(attempt-1), capped at Max.
// It returns an error without waiting when ctx's deadline would pass before
// the wait and a short attempt, and ctx's error when ctx ends while it
// waits.
func (p Policy) Pause(ctx context.Context, attempt int) error {
	p = p.withDefaults()
	d := p.delay(attempt)
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < d+minAttempt {
		return context.DeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Delay is the wait before retry number attempt (1 after the first
// failure), as Pause would wait it: for a caller that cannot block, such
// as a publish retried from a callback.
func (p Policy) Delay(attempt int) time.Duration { return p.delay(attempt) }

// delay is the wait before retry number attempt, jittered: the top of the
// schedule, Initial·2^(attempt-1) capped at Max, minus up to half of it at
// random, so that writers who failed together do not retry together.
func (p Policy) delay(attempt int) time.Duration {
	p = p.withDefaults()
	d := p.Initial
	for i := 1; i < attempt && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	half := d / 2
	return d - half + rand.N(half+1)
}
