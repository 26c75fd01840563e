package runtime

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// traced runs each message of one handler in a span named "process
// <subject>": SpanKindServer for a request, SpanKindConsumer for an event,
// the child of the traceparent the message carries, or the root of a new
// trace. It records the error a handler returns. The span's status is Error
// for a failed event and for a request answered with a 5xx; a 4xx reply is
// the service working as designed, so it is noted but not a failure.
//
// The chain leaves it out of the chain when tracing is off.
func traced(spans spanStarter, site handlerSite) Middleware {
	kind := trace.SpanKindServer
	if site.kind == KindEvent {
		kind = trace.SpanKindConsumer
	}
	// The attributes every span of the handler shares.
	static := []attribute.KeyValue{
		messagingNATS,
		semconv.MessagingOperationTypeProcess,
		semconv.MessagingOperationName("process"),
		semconv.MessagingDestinationName(site.subject),
	}
	if site.consumer != "" {
		static = append(static, semconv.MessagingConsumerGroupName(site.consumer), attrStream.String(site.stream))
	}
	name := "process " + site.subject
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, m *Message) ([]byte, error) {
			if m.Header != nil {
				ctx = propagator.Extract(ctx, headerCarrier(m.Header))
			}
			ctx, span := spans.start(ctx, name, kind, messageAttrs(m, static))
			if inv := invocationFrom(ctx); inv != nil {
				inv.span = span.SpanContext() // the parent of a dead letter's span
			}
			out, err := next.Handle(ctx, m)
			if err != nil {
				recordError(span, err, m.Kind == KindEvent || codeFor(err) >= 500)
			}
			span.End()
			return out, err
		})
	}
}

// messageAttrs returns the handler's static attributes followed by those
// that change with every message, copying static only when there are some.
func messageAttrs(m *Message, static []attribute.KeyValue) []attribute.KeyValue {
	corr := m.HeaderValue(HeaderCorrelationID)
	if !validCorrelationID(corr) {
		corr = ""
	}
	if m.Kind != KindEvent && corr == "" {
		return static
	}
	attrs := make([]attribute.KeyValue, len(static), len(static)+4)
	copy(attrs, static)
	if m.Kind == KindEvent {
		attrs = append(attrs, semconv.MessagingMessageID(m.ID()),
			attrDeliveryCount.Int(m.Delivered), attrStreamSequence.Int64(int64(m.Sequence)))
	}
	if corr != "" {
		attrs = append(attrs, attrCorrelationID.String(corr))
	}
	return attrs
}
