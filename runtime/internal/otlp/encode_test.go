package otlp

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

// capture is an otlptrace client that keeps what the SDK's exporter
// would send.
type capture struct{ got []*tracepb.ResourceSpans }

func (*capture) Start(context.Context) error { return nil }
func (*capture) Stop(context.Context) error  { return nil }
func (c *capture) UploadTraces(_ context.Context, rs []*tracepb.ResourceSpans) error {
	c.got = append(c.got, rs...)
	return nil
}

// TestEncodeAsTheSDK: encodeSpans writes what the SDK's otlptrace
// exporter writes for the same spans (every attribute type, events,
// links, each status, local and remote parents, two resources, scopes
// with and without attributes and schema URLs, a value longer than a
// one-byte length), field for field once decoded by the protobuf runtime.
func TestEncodeAsTheSDK(t *testing.T) {
	spans := testSpans()
	want := &capture{}
	exp, err := otlptrace.New(context.Background(), want)
	if err != nil {
		t.Fatal(err)
	}
	if err := exp.ExportSpans(context.Background(), spans); err != nil {
		t.Fatal(err)
	}
	var got tracepb.TracesData
	if err := proto.Unmarshal(encodeSpans(spans), &got); err != nil {
		t.Fatalf("decode what encodeSpans wrote: %v", err)
	}
	if len(got.ResourceSpans) != 2 || len(want.got) != 2 {
		t.Fatalf("%d resource spans written, the SDK %d; want 2 each", len(got.ResourceSpans), len(want.got))
	}
	// The SDK's order of resources is a map's; match each of its own.
	for _, w := range want.got {
		found := false
		for _, g := range got.ResourceSpans {
			found = found || proto.Equal(w, g)
		}
		if !found {
			t.Fatalf("the SDK's resource spans\n%s\nwritten differently; encodeSpans wrote\n%s",
				prototext.Format(w), prototext.Format(&got))
		}
	}
	// Scopes and spans keep the order the spans name them.
	first := got.ResourceSpans[0]
	if n := first.ScopeSpans[0].Scope.GetName(); n != "natsfn" {
		t.Fatalf("first scope %q, want the first span's", n)
	}
	if n := first.ScopeSpans[0].Spans[0].Name; n != "orders.create" {
		t.Fatalf("first span %q, want orders.create", n)
	}
}

func TestEncodeNothing(t *testing.T) {
	if b := encodeSpans(nil); len(b) != 0 {
		t.Fatalf("no spans encoded as %d bytes", len(b))
	}
}

func testSpans() []sdktrace.ReadOnlySpan {
	res1 := resource.NewSchemaless(attribute.String("service.name", "orders"), attribute.Int("n", 0))
	res2 := resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0", attribute.String("service.name", "payments"))
	scope1 := instrumentation.Scope{Name: "natsfn", Version: "1.2.0"}
	scope2 := instrumentation.Scope{Name: "other", SchemaURL: "https://opentelemetry.io/schemas/1.26.0",
		Attributes: attribute.NewSet(attribute.Bool("lib", true))}
	tid := trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	ts, _ := trace.ParseTraceState("vendor=x,other=y")
	sc := func(sid byte, remote bool) trace.SpanContext {
		return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{sid, 1, 2, 3, 4, 5, 6, 7},
			TraceFlags: trace.FlagsSampled, TraceState: ts, Remote: remote})
	}
	start := time.Unix(1700000000, 123456789)
	long := strings.Repeat("x", 20000)
	stubs := tracetest.SpanStubs{
		{
			Name: "orders.create", SpanContext: sc(1, false), Parent: sc(9, true), SpanKind: trace.SpanKindServer,
			StartTime: start, EndTime: start.Add(3 * time.Millisecond),
			Attributes: []attribute.KeyValue{
				attribute.String("s", "v"), attribute.String("empty", ""), attribute.Bool("t", true),
				attribute.Bool("f", false), attribute.Int64("i", -42), attribute.Int64("zero", 0),
				attribute.Float64("d", 2.5), attribute.StringSlice("ss", []string{"a", ""}),
				attribute.BoolSlice("bs", []bool{true, false}), attribute.Int64Slice("is", []int64{1, -1, 0}),
				attribute.Float64Slice("ds", []float64{0, 1.5}), attribute.StringSlice("none", nil),
				attribute.String("long", long),
			},
			Events: []sdktrace.Event{
				{Name: "retry", Time: start.Add(time.Millisecond), Attributes: []attribute.KeyValue{attribute.Int("attempt", 2)}, DroppedAttributeCount: 1},
				{Name: "bare", Time: start.Add(2 * time.Millisecond)},
			},
			Links: []sdktrace.Link{
				{SpanContext: sc(7, true), Attributes: []attribute.KeyValue{attribute.String("why", "cause")}, DroppedAttributeCount: 3},
				{SpanContext: sc(8, false)},
			},
			Status:            sdktrace.Status{Code: codes.Error, Description: "gateway down"},
			DroppedAttributes: 2, DroppedEvents: 1, DroppedLinks: 4,
			Resource: res1, InstrumentationScope: scope1,
		},
		{Name: "emit", SpanContext: sc(2, false), Parent: sc(1, false), SpanKind: trace.SpanKindProducer,
			StartTime: start, EndTime: start.Add(time.Millisecond), Status: sdktrace.Status{Code: codes.Ok},
			Resource: res1, InstrumentationScope: scope2},
		{Name: "root", SpanContext: sc(3, false), SpanKind: trace.SpanKindInternal, StartTime: start, EndTime: start,
			Status: sdktrace.Status{Code: codes.Unset, Description: "not sent"}, Resource: res1, InstrumentationScope: scope1},
		{Name: "charge", SpanContext: sc(4, false), SpanKind: trace.SpanKindClient, StartTime: start, EndTime: start.Add(time.Second),
			Resource: res2},
		{Name: "deliver", SpanContext: sc(5, false), SpanKind: trace.SpanKindConsumer, StartTime: start, EndTime: start.Add(time.Second),
			Resource: res2, InstrumentationScope: scope1},
	}
	return stubs.Snapshots()
}
