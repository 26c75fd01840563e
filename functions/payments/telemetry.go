package payments

import (
	"context"
	"errors"
	"fmt"

	"github.com/sony/gobreaker/v2"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/natsfn/natsfn/runtime"
)

// Outcomes of a gateway call: the gateway.outcome attribute of its
// gateway.charge or gateway.cancel span and the outcome label of
// payments.gateway.charges or payments.gateway.cancels.
const (
	outcomeCharged  = "charged"
	outcomeDeclined = "declined"
	// outcomeOutage: the gateway failed to answer (outage mode, or its
	// ledger unreachable).
	outcomeOutage = "outage"
	// outcomeBreakerOpen: the breaker refused the call (open, or half-open
	// with its trial call under way); the gateway was not called.
	outcomeBreakerOpen = "breaker-open"
	// outcomeCancelled: the handler's context ended during the call
	// (shutdown or the handler's timeout).
	outcomeCancelled = "cancelled"
	// outcomeRefunded (a Cancel): the charge was made, and is refunded.
	outcomeRefunded = "refunded"
	// outcomeVoided: no charge was made, and none will be (a Cancel, or a
	// Charge the Cancel came before).
	outcomeVoided = "voided"
)

var outcomes = []string{outcomeCharged, outcomeDeclined, outcomeOutage, outcomeBreakerOpen, outcomeCancelled,
	outcomeRefunded, outcomeVoided}

// gatewayOutcome names how a gateway call ended, tested in the order
// chargeOnce tests it.
func gatewayOutcome(ctx context.Context, err error) string {
	switch {
	case err == nil:
		return outcomeCharged
	case errors.Is(err, ErrDeclined):
		return outcomeDeclined
	case errors.Is(err, ErrCancelled):
		return outcomeVoided
	case ctx.Err() != nil:
		return outcomeCancelled
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		return outcomeBreakerOpen
	}
	return outcomeOutage
}

// callGateway charges an order through the breaker in a "gateway.charge"
// span (order_id, amount_cents, gateway.outcome, payment_id when charged),
// a child of the charge handler's span, and counts the outcome. A decline
// is the gateway's answer, so its span has no error; an outage or an open
// breaker is recorded as unavailable, as the handler reports it.
func (f *function) callGateway(ctx context.Context, r *record) (string, error) {
	ctx, span := runtime.StartSpan(ctx, "gateway.charge",
		attribute.String("order_id", r.OrderID), attribute.Int64("amount_cents", r.AmountCents))
	id, err := f.breaker.Charge(ctx, r.OrderID, r.AmountCents)
	outcome := gatewayOutcome(ctx, err)
	f.meters.charged(outcome)
	if outcome == outcomeCharged {
		span.SetAttributes(attribute.String("payment_id", id))
	}
	endCall(span, outcome, err)
	return id, err
}

// endCall ends a gateway call's span with its outcome. The gateway's
// answers (charged, declined, refunded, voided) are no error; an outage or
// an open breaker is recorded as unavailable, as the handler reports it.
func endCall(span trace.Span, outcome string, err error) {
	span.SetAttributes(attribute.String("gateway.outcome", outcome))
	switch outcome {
	case outcomeCancelled:
		runtime.EndSpan(span, err)
	case outcomeOutage, outcomeBreakerOpen:
		runtime.EndSpan(span, runtime.Unavailable(err, "the payment gateway could not be reached"))
	default:
		runtime.EndSpan(span, nil)
	}
}

// callCancel calls off an order's payment through the breaker in a
// "gateway.cancel" span (order_id, gateway.outcome, payment_id and
// amount_cents when refunded) and counts the outcome.
func (f *function) callCancel(ctx context.Context, orderID string) (Cancellation, error) {
	ctx, span := runtime.StartSpan(ctx, "gateway.cancel", attribute.String("order_id", orderID))
	c, err := f.breaker.Cancel(ctx, orderID)
	outcome := gatewayOutcome(ctx, err)
	if err == nil {
		outcome = outcomeVoided
		if c.Refunded {
			outcome = outcomeRefunded
			span.SetAttributes(attribute.String("payment_id", c.PaymentID), attribute.Int64("amount_cents", c.AmountCents))
		}
	}
	f.meters.cancelled(outcome)
	endCall(span, outcome, err)
	return c, err
}

// breakerState is the value of the payments.breaker.state gauge: the
// gobreaker state, 0 closed, 1 half-open, 2 open. Run registers gauges
// after the OnStart hooks, which create the breaker.
func (f *function) breakerState() int64 {
	if f.breaker == nil {
		return int64(gobreaker.StateClosed)
	}
	return int64(f.breaker.cb.State())
}

// meters are the payments function's own counters, exported beside the
// runtime's metrics with the label function="payments":
//
//	payments.gateway.charges{outcome}  gateway charges by outcome
//	payments.gateway.cancels{outcome}  gateway cancels by outcome
//	payments.breaker.opens             times the breaker opened
//	payments.charge.pauses             times this instance paused the charge consumer
//
// The breaker's state is the gauge payments.breaker.state (Service.Gauge).
type meters struct {
	charges, cancels, opens, pauses metric.Int64Counter
	byOutcome                       map[string][]metric.AddOption
	plain                           []metric.AddOption
}

func newMeters(m metric.Meter) (*meters, error) {
	ms := &meters{byOutcome: map[string][]metric.AddOption{}}
	var errs [4]error
	ms.charges, errs[0] = m.Int64Counter("payments.gateway.charges",
		metric.WithDescription("Payment gateway charges by outcome: charged, declined, voided (the payment was cancelled first), outage, breaker-open, cancelled."))
	ms.opens, errs[1] = m.Int64Counter("payments.breaker.opens",
		metric.WithDescription("Times the payment gateway's circuit breaker opened."))
	ms.pauses, errs[2] = m.Int64Counter("payments.charge.pauses",
		metric.WithDescription("Times the charge consumer was paused for every instance while the gateway failed."))
	ms.cancels, errs[3] = m.Int64Counter("payments.gateway.cancels",
		metric.WithDescription("Payment gateway cancels (orders cancelled while charged or being charged) by outcome: refunded, voided, outage, breaker-open, cancelled."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, fmt.Errorf("payments metrics: %w", err)
	}
	fn := attribute.String("function", Name)
	for _, o := range outcomes {
		ms.byOutcome[o] = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(fn, attribute.String("outcome", o)))}
	}
	ms.plain = []metric.AddOption{metric.WithAttributeSet(attribute.NewSet(fn))}
	return ms, nil
}

// charged counts a gateway call.
func (ms *meters) charged(outcome string) {
	ms.charges.Add(context.Background(), 1, ms.byOutcome[outcome]...)
}

// cancelled counts a gateway Cancel.
func (ms *meters) cancelled(outcome string) {
	ms.cancels.Add(context.Background(), 1, ms.byOutcome[outcome]...)
}

// opened counts an opening of the breaker.
func (ms *meters) opened() { ms.opens.Add(context.Background(), 1, ms.plain...) }

// paused counts a pause of the charge consumer.
func (ms *meters) paused() { ms.pauses.Add(context.Background(), 1, ms.plain...) }
