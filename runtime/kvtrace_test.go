package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

type none struct{}

// TestWritesAreSpans: each write of a wrapped bucket made in a handler is a
// child span of the handler's span with the bucket, key, revisions and
// outcome; a lost compare-and-swap is an outcome, not an error; a failed
// write is an error; a write outside a handler makes no span.
func TestWritesAreSpans(t *testing.T) {
	srv := fntest.NewServer(t)
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })

	var kv jetstream.KeyValue
	svc := runtime.NewService(runtime.ServiceConfig{Name: "kvtest", Version: "1.0.0"})
	svc.OnStart(func(ctx context.Context, d runtime.Deps) error {
		raw, err := d.JetStream.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "things"})
		if err != nil {
			return err
		}
		kv = runtime.TraceKV(runtime.TraceKV(raw))
		_, err = kv.Put(ctx, "boot", []byte("x")) // outside a handler: no span
		return err
	})
	runtime.Endpoint(svc, "write", func(ctx context.Context, _ none) (none, error) {
		return none{}, script(ctx, kv)
	})
	cfg := srv.Config("kv")
	cfg.TracerProvider = tp
	fntest.RunConfig(t, cfg, svc)

	nc := srv.Connect(t)
	m, err := nc.Request("kvtest.write", []byte(`{}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c := m.Header.Get("Nats-Service-Error"); c != "" {
		t.Fatalf("script failed: %s", c)
	}

	var server tracetest.SpanStub
	deadline := time.Now().Add(5 * time.Second)
	for server.Name == "" {
		for _, s := range exp.GetSpans() {
			if s.Name == "process kvtest.write" {
				server = s
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("no server span")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var got []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name != "process kvtest.write" {
			got = append(got, s)
		}
	}
	want := []struct {
		name, key, outcome, revision, expected string
		failed                                 bool
	}{
		{"kv.create things", "k1", "written", "2", "", false},
		{"kv.create things", "k1", "key_exists", "", "", false},
		{"kv.update things", "k1", "written", "3", "2", false},
		{"kv.update things", "k1", "revision_mismatch", "", "2", false},
		{"kv.put things", "k2", "written", "4", "", false},
		{"kv.delete things", "k2", "written", "", "", false},
		{"kv.purge things", "k1", "revision_mismatch", "", "", false},
		{"kv.put things", "k3", "failed", "", "", true},
	}
	if len(got) != len(want) {
		t.Fatalf("%d KV spans, want %d: %v", len(got), len(want), names(got))
	}
	for i, w := range want {
		s := got[i]
		if s.Name != w.name || attr(s, "kv.bucket") != "things" || attr(s, "kv.key") != w.key ||
			attr(s, "kv.outcome") != w.outcome || attr(s, "kv.revision") != w.revision ||
			attr(s, "kv.expected_revision") != w.expected {
			t.Errorf("span %d: %s %v, want %+v", i, s.Name, s.Attributes, w)
		}
		if failed := s.Status.Code == codes.Error; failed != w.failed {
			t.Errorf("span %d (%s %s): status %v, want failed=%v", i, s.Name, w.outcome, s.Status, w.failed)
		}
		if s.Parent.SpanID() != server.SpanContext.SpanID() || s.SpanContext.TraceID() != server.SpanContext.TraceID() {
			t.Errorf("span %d: parent %s, want the handler's span %s", i, s.Parent.SpanID(), server.SpanContext.SpanID())
		}
	}
	if code := attr(got[len(got)-1], "natsfn.error.code"); code != "503" {
		t.Errorf("failed write: error code %q, want 503", code)
	}
}

// script makes one write of each kind and outcome, and stops at the first
// result that is not the expected one. The bucket holds "boot" at
// revision 1, so k1 is created at revision 2.
func script(ctx context.Context, kv jetstream.KeyValue) error {
	gone, cancel := context.WithCancel(ctx)
	cancel()
	var rev uint64
	steps := []struct {
		name string
		want error // nil: success; errAny: any error
		do   func() error
	}{
		{"create", nil, func() (err error) { rev, err = kv.Create(ctx, "k1", []byte("a")); return err }},
		{"create again", jetstream.ErrKeyExists, func() error { _, err := kv.Create(ctx, "k1", []byte("b")); return err }},
		{"update", nil, func() error { _, err := kv.Update(ctx, "k1", []byte("c"), rev); return err }},
		{"stale update", jetstream.ErrKeyRevisionMismatch, func() error { _, err := kv.Update(ctx, "k1", []byte("d"), rev); return err }},
		{"put", nil, func() error { _, err := kv.Put(ctx, "k2", []byte("e")); return err }},
		{"delete", nil, func() error { return kv.Delete(ctx, "k2") }},
		{"stale purge", jetstream.ErrKeyRevisionMismatch, func() error { return kv.Purge(ctx, "k1", jetstream.LastRevision(rev)) }},
		{"put, cancelled", errAny, func() error { _, err := kv.Put(gone, "k3", []byte("f")); return err }},
	}
	for _, s := range steps {
		err := s.do()
		switch {
		case s.want == nil && err != nil,
			s.want == errAny && err == nil,
			s.want != nil && s.want != errAny && !errors.Is(err, s.want):
			return fmt.Errorf("%s: got %v, want %v", s.name, err, s.want)
		}
	}
	return nil
}

// errAny stands for "some error" in a script step.
var errAny = errors.New("any error")

// names lists the spans' names.
func names(spans []tracetest.SpanStub) []string {
	out := make([]string, len(spans))
	for i, s := range spans {
		out[i] = s.Name
	}
	return out
}
