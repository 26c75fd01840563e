package runtime

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// TestLeanSpanIsReadable: an ended runtime span reads as the SDK's would,
// and every method of sdktrace.ReadOnlySpan answers: the embedded nil
// interface only stands in for the unexported one, so a method the SDK
// adds in an upgrade fails here rather than in an exporter.
func TestLeanSpanIsReadable(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer tp.Shutdown(context.Background())
	res := resource.NewSchemaless(attribute.String("service.name", "lean"))
	proc := sdktrace.NewSimpleSpanProcessor(exp)
	lean := &leanSpans{provider: tp, sampler: sdktrace.AlwaysSample(), proc: proc, res: res,
		scope: instrumentation.Scope{Name: instrumentationName}}

	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: newTraceID(), SpanID: newSpanID(),
		TraceFlags: trace.FlagsSampled, Remote: true})
	static := []attribute.KeyValue{attribute.String("messaging.system", "nats")}
	ctx, span := lean.start(trace.ContextWithRemoteSpanContext(context.Background(), parent),
		"process x", trace.SpanKindConsumer, static)
	_, child := tp.Tracer("test").Start(ctx, "kv.put x")
	child.End()
	span.SetAttributes(attribute.Int("n", 1), attribute.Int("n", 2))
	span.RecordError(errors.New("boom"))
	span.SetStatus(codes.Error, "failed")
	span.SetStatus(codes.Unset, "ignored")
	span.End()
	span.SetAttributes(attribute.Int("late", 1)) // after End: ignored
	if len(static) != 1 || cap(static) != 1 {
		t.Fatal("the shared static attributes were changed")
	}

	stubs := exp.GetSpans()
	if len(stubs) != 2 {
		t.Fatalf("%d spans exported, want the child and the runtime's", len(stubs))
	}
	got, kid := stubs[1], stubs[0]
	if got.Name != "process x" || got.SpanKind != trace.SpanKindConsumer ||
		got.SpanContext.TraceID() != parent.TraceID() || got.Parent.SpanID() != parent.SpanID() {
		t.Errorf("span %s kind %v trace %s parent %s", got.Name, got.SpanKind, got.SpanContext.TraceID(), got.Parent.SpanID())
	}
	if kid.Parent.SpanID() != got.SpanContext.SpanID() {
		t.Errorf("the SDK child's parent is %s, want the runtime span %s", kid.Parent.SpanID(), got.SpanContext.SpanID())
	}
	attrs := map[attribute.Key]attribute.Value{}
	for _, a := range got.Attributes {
		if _, dup := attrs[a.Key]; dup {
			t.Errorf("attribute %s twice", a.Key)
		}
		attrs[a.Key] = a.Value
	}
	if attrs["messaging.system"].AsString() != "nats" || attrs["n"].AsInt64() != 2 || attrs["late"].Type() != attribute.INVALID {
		t.Errorf("attributes %v", got.Attributes)
	}
	if got.Status.Code != codes.Error || got.Status.Description != "failed" {
		t.Errorf("status %v", got.Status)
	}
	if len(got.Events) != 1 || got.Events[0].Name != "exception" {
		t.Errorf("events %v", got.Events)
	}
	if got.Resource != res || got.InstrumentationScope.Name != instrumentationName || !got.EndTime.After(got.StartTime) {
		t.Errorf("resource %v scope %v times %v %v", got.Resource, got.InstrumentationScope, got.StartTime, got.EndTime)
	}

	ro := reflect.ValueOf(span)
	iface := reflect.TypeFor[sdktrace.ReadOnlySpan]()
	for i := range iface.NumMethod() {
		m := iface.Method(i)
		if !m.IsExported() {
			continue
		}
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Errorf("ReadOnlySpan.%s is not implemented: %v", m.Name, r)
				}
			}()
			ro.MethodByName(m.Name).Call(nil)
		}()
	}
}

// TestLeanSpanFollowsSampler: a span the sampler drops is valid, not
// recorded and not exported.
func TestLeanSpanFollowsSampler(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	lean := &leanSpans{sampler: sdktrace.NeverSample(), proc: sdktrace.NewSimpleSpanProcessor(exp)}
	_, span := lean.start(context.Background(), "process x", trace.SpanKindServer, nil)
	span.SetAttributes(attribute.Int("n", 1))
	span.End()
	if span.IsRecording() || span.SpanContext().IsSampled() || !span.SpanContext().IsValid() || len(exp.GetSpans()) != 0 {
		t.Fatalf("dropped span: recording %v sampled %v valid %v exported %d", span.IsRecording(),
			span.SpanContext().IsSampled(), span.SpanContext().IsValid(), len(exp.GetSpans()))
	}
}
