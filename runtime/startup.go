package runtime

import (
	"context"
	"time"

	"github.com/natsfn/natsfn/runtime/internal/retry"
)

// retryStart runs one start step (a stream, a bucket, a consumer) until it
// succeeds, fails for good (retry.Transient says which), or ConnectTimeout
// passes. A cluster that has
// just booted answers JetStream calls with time-outs, "no responders" or
// "no suitable peers" for a few seconds; a function starting then waits
// instead of exiting and being restarted.
//
// attempt bounds each try (0: only ctx does): a create that the cluster
// never answers is better retried after a couple of seconds than after the
// client's 5s default. OnStart hooks get no bound, since they may start
// watchers that live on ctx.
func (r *serviceRun) retryStart(ctx context.Context, step string, attempt time.Duration, fn func(context.Context) error) error {
	deadline := time.Now().Add(r.cfg.ConnectTimeout)
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		err := try(ctx, attempt, fn)
		if err == nil || !retry.Transient(err) || time.Now().Add(wait).After(deadline) {
			return err
		}
		r.logger.Warn("start step failed; retrying", "step", step, "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// try runs fn once, bounded by attempt when it is positive.
func try(ctx context.Context, attempt time.Duration, fn func(context.Context) error) error {
	if attempt <= 0 {
		return fn(ctx)
	}
	ctx, cancel := context.WithTimeout(ctx, attempt)
	defer cancel()
	return fn(ctx)
}

// startAttempt bounds one try of creating a stream or a consumer.
const startAttempt = 3 * time.Second
