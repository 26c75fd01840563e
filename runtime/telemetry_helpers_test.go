package runtime_test

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// spanRecorder is a tracer provider that keeps every ended span in memory.
type spanRecorder struct {
	*sdktrace.TracerProvider
	exp *tracetest.InMemoryExporter
}

func newSpanRecorder(t *testing.T) *spanRecorder {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return &spanRecorder{TracerProvider: tp, exp: exp}
}

// built returns cfg with tracing on through a tracer provider the runtime
// builds, as a running function has it (the runtime's own spans), whose
// spans rec receives, batched; with cfg.TracerProvider = rec instead, the
// runtime traces with the SDK's spans.
func (r *spanRecorder) built(cfg runtime.Config) runtime.Config {
	return runtime.WithSpanExporter(cfg, r.exp)
}

// find returns the ended spans with the given name.
func (r *spanRecorder) find(name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range r.exp.GetSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// one waits for exactly one ended span with the given name and returns it.
func (r *spanRecorder) one(t *testing.T, name string) tracetest.SpanStub {
	t.Helper()
	fntest.Eventually(t, 20*time.Second, "span "+name, func() bool { return len(r.find(name)) >= 1 })
	spans := r.find(name)
	if len(spans) != 1 {
		t.Fatalf("%d spans named %q, want 1", len(spans), name)
	}
	return spans[0]
}

// attr returns a span attribute as a string, or "".
func attr(s tracetest.SpanStub, key string) string {
	for _, kv := range s.Attributes {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}

// traceparent builds a sampled W3C traceparent with fixed ids.
func traceparent() (header string, tid trace.TraceID, sid trace.SpanID) {
	tid, _ = trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ = trace.SpanIDFromHex("b7ad6b7169203331")
	return "00-" + tid.String() + "-" + sid.String() + "-01", tid, sid
}

// newMetrics is a meter provider the test reads, shut down at its end.
func newMetrics(t *testing.T) *fntest.Metrics {
	t.Helper()
	m := fntest.NewMetrics()
	t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
	return m
}

// value reads a metric (0 while it has no point).
func value(m *fntest.Metrics, name string, labels ...string) int64 {
	v, _ := m.Value(name, labels...)
	return v
}

// freeAddr returns a loopback address with a port free right now.
func freeAddr(t *testing.T) (string, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	port := ln.Addr().(*net.TCPAddr).Port
	return "127.0.0.1:" + strconv.Itoa(port), port
}

// syncBuffer captures logs written concurrently.
type syncBuffer = fntest.Buffer
