package spanbatch

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestSpanBatcher: spans are exported in batches when one fills and on
// ForceFlush, none is lost at Shutdown, and beyond the queue they drop and
// are counted.
func TestSpanBatcher(t *testing.T) {
	// The in-memory exporter forgets its spans when it shuts down: the
	// wrapper counts them just before.
	exp := &countOnShutdown{InMemoryExporter: tracetest.NewInMemoryExporter()}
	b := New(exp, Options{MaxBatch: 10, MaxQueue: 25, Delay: time.Hour})
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
	// The exporter holds the first full batch: 10 in its hands and 25
	// queued leave 5 of 40 to drop.
	exp.gate = make(chan struct{})
	for range 40 {
		_, s := tr.Start(context.Background(), "y")
		s.End()
	}
	close(exp.gate)
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := b.Counts()
	if int64(exp.n)+c.Dropped != 40 || c.Dropped < 5 || c.Exported != int64(7+exp.n) || c.Lost != 0 {
		t.Fatalf("%d exported in the second round, counts %+v; want 40 in all, at least 5 dropped", exp.n, c)
	}
	_, s := tr.Start(context.Background(), "after")
	s.End()
	if len(b.spans) != 0 {
		t.Fatal("a span after Shutdown was queued")
	}
}

// TestFailedExportsAreCounted: an export that fails loses its batch: the
// spans count as lost, the export as failed, and Failed hears of it with
// the error and the number of spans; the next export, once the exporter
// works again, goes through. Each export is bounded by Timeout.
func TestFailedExportsAreCounted(t *testing.T) {
	exp := &failing{InMemoryExporter: tracetest.NewInMemoryExporter(), err: errors.New("collector down")}
	var mu sync.Mutex
	var told []int
	b := New(exp, Options{MaxBatch: 4, Delay: time.Hour, Timeout: 50 * time.Millisecond, Failed: func(err error, n int) {
		if errors.Is(err, exp.err) {
			mu.Lock()
			told = append(told, n)
			mu.Unlock()
		}
	}})
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(b))
	defer tp.Shutdown(context.Background())
	tr := tp.Tracer("test")
	end := func(n int) {
		for range n {
			_, s := tr.Start(context.Background(), "z")
			s.End()
		}
	}
	end(3)
	if err := b.ForceFlush(context.Background()); !errors.Is(err, exp.err) {
		t.Fatalf("ForceFlush: %v, want the export's error", err)
	}
	exp.hang = true // now it never answers: the Timeout ends the export
	end(2)
	start := time.Now()
	if err := b.ForceFlush(context.Background()); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Fatalf("ForceFlush of a hanging exporter: %v after %s, want the 50ms timeout", err, time.Since(start))
	}
	exp.hang, exp.err = false, nil
	end(1)
	if err := b.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := b.Counts()
	mu.Lock()
	defer mu.Unlock()
	if c.FailedExports != 2 || c.Lost != 5 || c.Exported != 1 || len(told) != 1 || told[0] != 3 {
		t.Fatalf("counts %+v, Failed told %v; want 2 failed exports, 5 lost, 1 exported, told of 3", c, told)
	}
}

type countOnShutdown struct {
	*tracetest.InMemoryExporter
	n    int
	gate chan struct{} // when set, exports wait for it
}

func (c *countOnShutdown) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if c.gate != nil {
		<-c.gate
	}
	return c.InMemoryExporter.ExportSpans(ctx, spans)
}

func (c *countOnShutdown) Shutdown(ctx context.Context) error {
	c.n = len(c.GetSpans())
	return c.InMemoryExporter.Shutdown(ctx)
}

// failing fails with err, or hangs until its context ends.
type failing struct {
	*tracetest.InMemoryExporter
	err  error
	hang bool
}

func (f *failing) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if f.hang {
		<-ctx.Done()
		return ctx.Err()
	}
	if f.err != nil {
		return f.err
	}
	return f.InMemoryExporter.ExportSpans(ctx, spans)
}
