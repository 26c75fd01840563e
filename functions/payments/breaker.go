package payments

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

// BreakerConfig tunes the circuit breaker around the gateway. Zero fields
// take the defaults.
type BreakerConfig struct {
	// Failures is how many consecutive gateway failures open the breaker
	// (default 5). A decline is not a failure.
	Failures uint32
	// OpenTimeout is how long the breaker stays open, and the charge
	// consumer paused, before one trial call goes through (default 2s).
	OpenTimeout time.Duration
}

// Breaker defaults.
const (
	DefaultBreakerFailures    = 5
	DefaultBreakerOpenTimeout = 2 * time.Second
)

func (c BreakerConfig) withDefaults() BreakerConfig {
	if c.Failures == 0 {
		c.Failures = DefaultBreakerFailures
	}
	if c.OpenTimeout <= 0 {
		c.OpenTimeout = DefaultBreakerOpenTimeout
	}
	return c
}

// breaker is a Gateway behind a circuit breaker. It also remembers until
// when the breaker stays open and until when the consumer is paused, so
// that the many messages that meet an open breaker pause it only once.
type breaker struct {
	cb      *gobreaker.CircuitBreaker[string]
	next    Gateway
	timeout time.Duration

	mu          sync.Mutex
	openUntil   time.Time
	pausedUntil time.Time

	opened atomic.Int64 // how often the breaker opened
	paused atomic.Int64 // how often the consumer was paused
}

func newBreaker(cfg BreakerConfig, next Gateway, logger *slog.Logger, m *meters) *breaker {
	cfg = cfg.withDefaults()
	b := &breaker{next: next, timeout: cfg.OpenTimeout}
	b.cb = gobreaker.NewCircuitBreaker[string](gobreaker.Settings{
		Name:    "payment-gateway",
		Timeout: cfg.OpenTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool {
			return c.ConsecutiveFailures >= cfg.Failures
		},
		IsSuccessful: func(err error) bool {
			return err == nil || errors.Is(err, ErrDeclined) || errors.Is(err, ErrCancelled)
		},
		// A call cut short by shutdown says nothing about the gateway.
		IsExcluded: func(err error) bool { return errors.Is(err, context.Canceled) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			logger.Warn("payment gateway breaker", "from", from.String(), "to", to.String())
			if to == gobreaker.StateOpen {
				b.opened.Add(1)
				m.opened()
				b.mu.Lock()
				b.openUntil = time.Now().Add(cfg.OpenTimeout)
				b.mu.Unlock()
			}
		},
	})
	return b
}

// Charge calls the gateway unless the breaker is open.
func (b *breaker) Charge(ctx context.Context, orderID string, amountCents int64) (string, error) {
	return b.cb.Execute(func() (string, error) { return b.next.Charge(ctx, orderID, amountCents) })
}

// Cancel calls the gateway's Cancel unless the breaker is open.
func (b *breaker) Cancel(ctx context.Context, orderID string) (Cancellation, error) {
	var c Cancellation
	_, err := b.cb.Execute(func() (string, error) {
		var err error
		c, err = b.next.Cancel(ctx, orderID)
		return "", err
	})
	return c, err
}

// wait is how long an order waits after a gateway failure: until the
// breaker half-opens when it is open, a full open timeout otherwise.
func (b *breaker) wait() time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	if left := time.Until(b.openUntil); left > 0 {
		return left
	}
	return b.timeout
}

// claimPause reports whether the consumer must be paused for d: false
// when another message paused it that long already.
func (b *breaker) claimPause(d time.Duration) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	until := time.Now().Add(d)
	if !until.After(b.pausedUntil.Add(d / 10)) {
		return false
	}
	b.pausedUntil = until
	return true
}
