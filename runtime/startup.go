package runtime

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// retryStart runs one start step (a stream, a bucket, a consumer) until it
// succeeds, fails for good, or ConnectTimeout passes. A cluster that has
// just booted answers JetStream calls with time-outs, "no responders" or
// "no suitable peers" for a few seconds; a function starting then waits
// instead of exiting and being restarted.
func (s *Service) retryStart(ctx context.Context, step string, fn func(context.Context) error) error {
	deadline := time.Now().Add(s.startTimeout)
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		err := fn(ctx)
		if err == nil || !transient(err) || time.Now().Add(wait).After(deadline) {
			return err
		}
		s.logger.Warn("start step failed; retrying", "step", step, "error", err, "retry_in", wait)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// transient reports whether a JetStream call may succeed if tried again:
// a time-out, nobody answering yet, or a 5xx from the JetStream API.
func transient(err error) bool {
	if errors.Is(err, ErrConfigValidation) || strings.Contains(strings.ToLower(err.Error()), "permissions violation") {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrDisconnected) {
		return true
	}
	var api *jetstream.APIError
	return errors.As(err, &api) && api.Code >= 500
}
