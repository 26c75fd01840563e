package runtime

import (
	"context"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Span attributes the runtime sets besides the OpenTelemetry messaging
// conventions, which have no NATS-specific keys (runtime/README.md).
const (
	// attrDeliveryCount is the JetStream delivery count of an event, 1 on
	// the first delivery.
	attrDeliveryCount = attribute.Key("messaging.nats.message.delivery_count")
	// attrStream is the JetStream stream of an event.
	attrStream = attribute.Key("messaging.nats.stream.name")
	// attrStreamSequence is the event's sequence in its stream.
	attrStreamSequence = attribute.Key("messaging.nats.stream.sequence")
	// attrCorrelationID is the X-Correlation-ID the message arrived with.
	attrCorrelationID = attribute.Key("natsfn.correlation_id")
	// attrErrorCode is the micro error code of a failure (400 ... 503).
	attrErrorCode = attribute.Key("natsfn.error.code")
)

// messagingNATS is messaging.system; the conventions list no value for NATS.
var messagingNATS = semconv.MessagingSystemKey.String("nats")

// StartSpan starts a span for a piece of a handler's work (a KV write, a
// gateway call) as a child of the handler's span, with the service's tracer.
// End it with EndSpan, or span.End. When tracing is off, or outside a
// handler, it returns ctx and a no-op span, so calling it costs next to
// nothing:
//
//	ctx, span := runtime.StartSpan(ctx, "kv.update stock",
//		attribute.String("kv.bucket", "stock"), attribute.String("kv.key", sku))
//	rev, err := kv.Update(ctx, sku, val, last)
//	runtime.EndSpan(span, err)
func StartSpan(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	inv := invocationFrom(ctx)
	if inv == nil || inv.run.tracer == nil {
		return ctx, tracenoop.Span{}
	}
	return inv.run.tracer.Start(ctx, name, trace.WithAttributes(attrs...))
}

// EndSpan records err on span, if any, with its error code and an Error
// status, and ends the span.
func EndSpan(span trace.Span, err error) {
	if err != nil {
		recordError(span, err, true)
	}
	span.End()
}

// recordError notes err on span; failed sets the span's status to Error.
func recordError(span trace.Span, err error, failed bool) {
	if !span.IsRecording() {
		return
	}
	code, name := classify(err)
	span.RecordError(err)
	span.SetAttributes(semconv.ErrorTypeKey.String(name), attrErrorCode.Int(code))
	if failed {
		span.SetStatus(codes.Error, err.Error())
	}
}

// startSend starts the producer span of a publish to subject, a child of
// ctx's span, and writes its context into hdr as traceparent/tracestate.
func startSend(ctx context.Context, spans spanStarter, subject, msgID string, hdr nats.Header) trace.Span {
	ctx, span := spans.start(ctx, "send "+subject, trace.SpanKindProducer, []attribute.KeyValue{
		messagingNATS, semconv.MessagingOperationTypeSend, semconv.MessagingOperationName("send"),
		semconv.MessagingDestinationName(subject), semconv.MessagingMessageID(msgID)})
	propagator.Inject(ctx, headerCarrier(hdr))
	return span
}

// startClient starts the client span of a request to subject, a child of
// ctx's span, and writes its context into hdr.
func startClient(ctx context.Context, spans spanStarter, subject string, hdr nats.Header) trace.Span {
	ctx, span := spans.start(ctx, "send "+subject, trace.SpanKindClient, []attribute.KeyValue{
		messagingNATS, semconv.MessagingOperationTypeSend, semconv.MessagingOperationName("send"),
		semconv.MessagingDestinationName(subject)})
	propagator.Inject(ctx, headerCarrier(hdr))
	return span
}
