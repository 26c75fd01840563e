package kv_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/natsfn/natsfn/runtime/internal/kv"
)

func TestWritesAreTraced(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	s := newSingle(t)
	js := connect(t, s.url(), nil)
	b := open[item](t, js, kv.Config{Bucket: "traced", Tracer: tp.Tracer("test")})
	ctx, handler := tp.Tracer("test").Start(bg(t), "process orders.created")

	rev, err := b.Create(ctx, "k", item{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = b.Create(ctx, "k", item{N: 1})          // key_exists
	_, _ = b.Update(ctx, "k", item{N: 2}, rev+100) // revision_mismatch
	err = b.Transact(ctx, func(tx *kv.Tx[item]) error {
		if err := tx.Load(ctx, "k", "j"); err != nil {
			return err
		}
		return errors.Join(tx.Put("k", item{N: 3}), tx.Put("j", item{N: 1}))
	})
	if err != nil {
		t.Fatal(err)
	}
	_, _, _ = b.Get(ctx, "k") // reads are not traced
	s.stop()
	dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	_ = b.Delete(dctx, "k", 1) // failed: no server
	cancel()
	handler.End()

	type want struct {
		name, outcome string
		attrs         map[attribute.Key]attribute.Value
		failed        bool
	}
	wants := []want{
		{"kv.create traced", "written", map[attribute.Key]attribute.Value{"kv.key": attribute.StringValue("k"), "kv.revision": attribute.Int64Value(int64(rev))}, false},
		{"kv.create traced", "key_exists", nil, false},
		{"kv.update traced", "revision_mismatch", map[attribute.Key]attribute.Value{"kv.expected_revision": attribute.Int64Value(int64(rev + 100))}, false},
		{"kv.commit traced", "written", map[attribute.Key]attribute.Value{"kv.keys": attribute.StringSliceValue([]string{"k", "j"})}, false},
		{"kv.delete traced", "failed", nil, true},
	}
	var spans []sdktrace.ReadOnlySpan
	for _, sp := range rec.Ended() {
		if sp.Name() != "process orders.created" {
			spans = append(spans, sp)
		}
	}
	if len(spans) != len(wants) {
		for _, sp := range spans {
			t.Log(sp.Name(), sp.Attributes())
		}
		t.Fatalf("%d write spans, want %d", len(spans), len(wants))
	}
	for i, w := range wants {
		sp := spans[i]
		attrs := map[attribute.Key]attribute.Value{}
		for _, a := range sp.Attributes() {
			attrs[a.Key] = a.Value
		}
		if sp.Name() != w.name || attrs["kv.outcome"].AsString() != w.outcome || attrs["kv.bucket"].AsString() != "traced" {
			t.Errorf("span %d: %s outcome=%s bucket=%s; want %s %s", i, sp.Name(), attrs["kv.outcome"].AsString(), attrs["kv.bucket"].AsString(), w.name, w.outcome)
		}
		for k, v := range w.attrs {
			if attrs[k] != v {
				t.Errorf("span %d (%s): %s = %v, want %v", i, sp.Name(), k, attrs[k].Emit(), v.Emit())
			}
		}
		if failed := sp.Status().Code == codes.Error; failed != w.failed {
			t.Errorf("span %d (%s): status %v", i, sp.Name(), sp.Status())
		}
		if sp.Parent().SpanID() != handler.SpanContext().SpanID() {
			t.Errorf("span %d (%s) is not a child of the handler's span", i, sp.Name())
		}
	}
}

// TestNoSpanWithoutATracerOrParent: no tracer, or no recording span in the
// context, means no span.
func TestNoSpanWithoutATracerOrParent(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	js := connect(t, newSingle(t).url(), nil)
	traced := open[item](t, js, kv.Config{Bucket: "t1", Tracer: tp.Tracer("test")})
	untraced := open[item](t, js, kv.Config{Bucket: "t2"})
	ctx, handler := tp.Tracer("test").Start(bg(t), "handler")
	if _, err := untraced.Create(ctx, "k", item{}); err != nil {
		t.Fatal(err)
	}
	if _, err := traced.Create(bg(t), "k", item{}); err != nil { // no span in ctx
		t.Fatal(err)
	}
	handler.End()
	if n := len(rec.Ended()); n != 1 {
		t.Errorf("%d spans ended, want only the handler's", n)
	}
}
