package runtime

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	goruntime "runtime"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
)

// spanStarter starts the runtime's own spans: a handler's process span, an
// emit's send span, a request's client span. attrs are shared by every
// span of a site and must not be changed.
type spanStarter interface {
	start(ctx context.Context, name string, kind trace.SpanKind, attrs []attribute.KeyValue) (context.Context, trace.Span)
}

// sdkSpans starts spans with any tracer (a provider the caller brought).
type sdkSpans struct{ tr trace.Tracer }

func (s sdkSpans) start(ctx context.Context, name string, kind trace.SpanKind, attrs []attribute.KeyValue) (context.Context, trace.Span) {
	ctx, span := s.tr.Start(ctx, name, trace.WithSpanKind(kind))
	// Set after Start rather than passed to it, which saves the SDK a
	// copy; no sampler the runtime knows of decides by them.
	if span.IsRecording() {
		span.SetAttributes(attrs...)
	}
	return ctx, span
}

// leanSpans starts the runtime's own spans when the runtime built the
// tracer provider itself, and so knows its sampler and its one span
// processor (the span batcher). A span is then a struct that hands itself
// to the batcher when it ends, read by the exporter as the SDK's span
// would be: the SDK's recording span costs about five allocations and
// 1.2 KB (its attributes normalized, then deduplicated through a map, then
// copied into a snapshot at End), which was 12-14% of a traced echo
// request (runtime/README.md, "Tracing overhead"); this one costs one
// allocation besides its context. What a handler does to its span
// (trace.SpanFromContext: attributes, events, errors, status) is kept as
// the SDK would keep it; the SDK's attribute limits are not applied. A
// handler's own spans (StartSpan, TraceKV) are the SDK's, children of
// these.
type leanSpans struct {
	provider trace.TracerProvider
	sampler  sdktrace.Sampler
	proc     sdktrace.SpanProcessor
	res      *resource.Resource
	scope    instrumentation.Scope
}

func (l *leanSpans) start(ctx context.Context, name string, kind trace.SpanKind, attrs []attribute.KeyValue) (context.Context, trace.Span) {
	psc := trace.SpanContextFromContext(ctx)
	tid := psc.TraceID()
	if !tid.IsValid() {
		tid = newTraceID()
	}
	res := l.sampler.ShouldSample(sdktrace.SamplingParameters{ParentContext: ctx, TraceID: tid, Name: name, Kind: kind})
	scc := trace.SpanContextConfig{TraceID: tid, SpanID: newSpanID(), TraceState: res.Tracestate}
	if res.Decision == sdktrace.RecordAndSample {
		scc.TraceFlags = psc.TraceFlags() | trace.FlagsSampled
	} else {
		scc.TraceFlags = psc.TraceFlags() &^ trace.FlagsSampled
	}
	s := &leanSpan{spans: l, name: name, kind: kind, sc: trace.NewSpanContext(scc), parent: psc,
		recording: res.Decision != sdktrace.Drop, start: time.Now()}
	if s.recording {
		s.attrs = attrs[:len(attrs):len(attrs)] // an append copies
		s.attrs = append(s.attrs, res.Attributes...)
	}
	return trace.ContextWithSpan(ctx, s), s
}

// newTraceID and newSpanID draw random ids from the runtime's per-thread
// generator: no lock, where the SDK's default generator takes one.
func newTraceID() trace.TraceID {
	var id trace.TraceID
	for id == (trace.TraceID{}) {
		hi, lo := rand.Uint64(), rand.Uint64()
		for i := range 8 {
			id[i], id[8+i] = byte(hi>>(8*i)), byte(lo>>(8*i))
		}
	}
	return id
}

func newSpanID() trace.SpanID {
	var id trace.SpanID
	for id == (trace.SpanID{}) {
		v := rand.Uint64()
		for i := range 8 {
			id[i] = byte(v >> (8 * i))
		}
	}
	return id
}

// leanSpan is a span of leanSpans: a trace.Span while it runs, an
// sdktrace.ReadOnlySpan once it ended. The embedded ReadOnlySpan is nil:
// it provides the interface's unexported method, as the SDK's own
// tracetest.SpanStub does, and every other method is implemented here
// (TestLeanSpanIsReadable calls each one, so that an SDK upgrade that adds
// one fails a test rather than an export).
type leanSpan struct {
	embedded.Span
	sdktrace.ReadOnlySpan

	spans      *leanSpans
	sc, parent trace.SpanContext
	kind       trace.SpanKind
	recording  bool
	start      time.Time

	mu     sync.Mutex
	name   string
	end    time.Time
	ended  bool
	attrs  []attribute.KeyValue
	dirty  bool // SetAttributes may have repeated a key
	events []sdktrace.Event
	links  []sdktrace.Link
	status sdktrace.Status
}

// End ends the span and hands it to the batcher.
func (s *leanSpan) End(opts ...trace.SpanEndOption) {
	if !s.recording {
		return
	}
	end := time.Now()
	if len(opts) > 0 {
		if c := trace.NewSpanEndConfig(opts...); !c.Timestamp().IsZero() {
			end = c.Timestamp()
		}
	}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended, s.end = true, end
	if s.dirty {
		s.attrs = lastOfEachKey(s.attrs)
	}
	s.mu.Unlock()
	if s.sc.IsSampled() {
		s.spans.proc.OnEnd(s)
	}
}

// lastOfEachKey keeps the last value of each key, as the SDK does.
func lastOfEachKey(attrs []attribute.KeyValue) []attribute.KeyValue {
	out := make([]attribute.KeyValue, 0, len(attrs))
	for i, a := range attrs {
		last := true
		for _, b := range attrs[i+1:] {
			if b.Key == a.Key {
				last = false
				break
			}
		}
		if last {
			out = append(out, a)
		}
	}
	return out
}

// live runs fn under the lock while the span records.
func (s *leanSpan) live(fn func()) {
	if !s.recording {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		fn()
	}
}

// AddEvent records an event.
func (s *leanSpan) AddEvent(name string, opts ...trace.EventOption) {
	c := trace.NewEventConfig(opts...)
	s.live(func() {
		s.events = append(s.events, sdktrace.Event{Name: name, Attributes: c.Attributes(), Time: c.Timestamp()})
	})
}

// AddLink records a link.
func (s *leanSpan) AddLink(l trace.Link) {
	if !l.SpanContext.IsValid() {
		return
	}
	s.live(func() { s.links = append(s.links, sdktrace.Link{SpanContext: l.SpanContext, Attributes: l.Attributes}) })
}

// IsRecording reports whether the span records and has not ended.
func (s *leanSpan) IsRecording() bool {
	if !s.recording {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.ended
}

// RecordError records err as an exception event, as the SDK does.
func (s *leanSpan) RecordError(err error, opts ...trace.EventOption) {
	if err == nil || !s.recording {
		return
	}
	opts = append(opts, trace.WithAttributes(attrExceptionType.String(errorType(err)), attrExceptionMessage.String(err.Error())))
	if c := trace.NewEventConfig(opts...); c.StackTrace() {
		buf := make([]byte, 2048)
		buf = buf[:goruntime.Stack(buf, false)]
		opts = append(opts, trace.WithAttributes(attrExceptionStacktrace.String(string(buf))))
	}
	s.AddEvent("exception", opts...)
}

// The exception event's attributes (semantic conventions).
const (
	attrExceptionType       = attribute.Key("exception.type")
	attrExceptionMessage    = attribute.Key("exception.message")
	attrExceptionStacktrace = attribute.Key("exception.stacktrace")
)

// errorType names err's type as the SDK does: package path and name.
func errorType(err error) string {
	t := reflect.TypeOf(err)
	if t.PkgPath() == "" && t.Name() == "" {
		return t.String()
	}
	return fmt.Sprintf("%s.%s", t.PkgPath(), t.Name())
}

// SpanContext returns the span's context.
func (s *leanSpan) SpanContext() trace.SpanContext { return s.sc }

// SetStatus sets the status: Ok wins over Error, which wins over Unset.
func (s *leanSpan) SetStatus(code codes.Code, description string) {
	s.live(func() {
		if s.status.Code > code {
			return
		}
		st := sdktrace.Status{Code: code}
		if code == codes.Error {
			st.Description = description
		}
		s.status = st
	})
}

// SetName renames the span.
func (s *leanSpan) SetName(name string) { s.live(func() { s.name = name }) }

// SetAttributes adds attributes; a repeated key keeps its last value.
func (s *leanSpan) SetAttributes(kv ...attribute.KeyValue) {
	s.live(func() {
		for _, a := range kv {
			if a.Valid() {
				s.attrs = append(s.attrs, a)
				s.dirty = true
			}
		}
	})
}

// TracerProvider returns the provider the span's tracer belongs to.
func (s *leanSpan) TracerProvider() trace.TracerProvider { return s.spans.provider }

// What the exporter reads once the span ended (sdktrace.ReadOnlySpan).

// Name returns the span's name.
func (s *leanSpan) Name() string { return s.name }

// Parent returns the parent's span context.
func (s *leanSpan) Parent() trace.SpanContext { return s.parent }

// SpanKind returns the span's kind.
func (s *leanSpan) SpanKind() trace.SpanKind { return s.kind }

// StartTime returns when the span started.
func (s *leanSpan) StartTime() time.Time { return s.start }

// EndTime returns when the span ended.
func (s *leanSpan) EndTime() time.Time { return s.end }

// Attributes returns the span's attributes.
func (s *leanSpan) Attributes() []attribute.KeyValue { return s.attrs }

// Links returns the span's links.
func (s *leanSpan) Links() []sdktrace.Link { return s.links }

// Events returns the span's events.
func (s *leanSpan) Events() []sdktrace.Event { return s.events }

// Status returns the span's status.
func (s *leanSpan) Status() sdktrace.Status { return s.status }

// InstrumentationScope returns the runtime's scope.
func (s *leanSpan) InstrumentationScope() instrumentation.Scope { return s.spans.scope }

// InstrumentationLibrary returns the runtime's scope, by its old name.
func (s *leanSpan) InstrumentationLibrary() instrumentation.Library { //nolint:staticcheck // part of ReadOnlySpan
	return s.spans.scope
}

// Resource returns the provider's resource.
func (s *leanSpan) Resource() *resource.Resource { return s.spans.res }

// DroppedAttributes is 0: no limit applies.
func (s *leanSpan) DroppedAttributes() int { return 0 }

// DroppedLinks is 0: no limit applies.
func (s *leanSpan) DroppedLinks() int { return 0 }

// DroppedEvents is 0: no limit applies.
func (s *leanSpan) DroppedEvents() int { return 0 }

// ChildSpanCount is 0: the SDK's children of this span do not count
// themselves here (a count OTLP does not carry).
func (s *leanSpan) ChildSpanCount() int { return 0 }

var (
	_ trace.Span            = (*leanSpan)(nil)
	_ sdktrace.ReadOnlySpan = (*leanSpan)(nil)
)
