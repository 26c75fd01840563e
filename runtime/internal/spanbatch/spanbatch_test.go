package spanbatch

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestSpanBatcher: spans are exported in batches when one fills and on
// ForceFlush, none is lost at Shutdown, and beyond the queue they drop.
func TestSpanBatcher(t *testing.T) {
	// The in-memory exporter forgets its spans when it shuts down: the
	// wrapper counts them just before.
	exp := &countOnShutdown{InMemoryExporter: tracetest.NewInMemoryExporter()}
	b := start(exp, 10, 25)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(b))
	tr := tp.Tracer("test")
	for range 7 {
		_, s := tr.Start(context.Background(), "x")
		s.End()
	}
	if err := tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(exp.GetSpans()); n != 7 {
		t.Fatalf("%d spans after ForceFlush, want 7", n)
	}
	exp.Reset()
	for range 40 {
		_, s := tr.Start(context.Background(), "y")
		s.End()
	}
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	exported := exp.n
	if exported+int(b.dropped.Load()) != 40 || exported < b.batch {
		t.Fatalf("%d exported + %d dropped, want 40 in all", exported, b.dropped.Load())
	}
	_, s := tr.Start(context.Background(), "after")
	s.End()
	if len(b.spans) != 0 {
		t.Fatal("a span after Shutdown was queued")
	}
}

type countOnShutdown struct {
	*tracetest.InMemoryExporter
	n int
}

func (c *countOnShutdown) Shutdown(ctx context.Context) error {
	c.n = len(c.GetSpans())
	return c.InMemoryExporter.Shutdown(ctx)
}
