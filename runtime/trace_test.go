package runtime_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestRequestSpanContinuesTraceparent: a request with a lowercase
// traceparent header is served in a server span of that trace, a child of
// the caller's span; a request without one starts a new trace.
func TestRequestSpanContinuesTraceparent(t *testing.T) {
	srv := fntest.NewServer(t)
	rec := newSpanRecorder(t)
	cfg := srv.Config("traced")
	cfg = rec.built(cfg)
	fntest.RunConfig(t, cfg, echoService(1))
	nc := srv.Connect(t)

	header, tid, sid := traceparent()
	msg := natsMsg("echo.say", `{"msg":"hi"}`)
	msg.Header["traceparent"] = []string{header}
	if _, err := nc.RequestMsg(msg, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	span := rec.one(t, "process echo.say")
	if span.SpanKind != trace.SpanKindServer {
		t.Errorf("span kind %v, want server", span.SpanKind)
	}
	if span.SpanContext.TraceID() != tid || span.Parent.SpanID() != sid || !span.Parent.IsRemote() {
		t.Fatalf("span trace %s parent %s, want trace %s parent %s", span.SpanContext.TraceID(), span.Parent.SpanID(), tid, sid)
	}
	for key, want := range map[string]string{
		"messaging.system":           "nats",
		"messaging.destination.name": "echo.say",
		"messaging.operation.type":   "process",
	} {
		if got := attr(span, key); got != want {
			t.Errorf("attribute %s = %q, want %q", key, got, want)
		}
	}

	rec.exp.Reset()
	if _, err := nc.Request("echo.say", []byte(`{"msg":"fresh"}`), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	fresh := rec.one(t, "process echo.say")
	if fresh.Parent.IsValid() || fresh.SpanContext.TraceID() == tid || !fresh.SpanContext.IsValid() {
		t.Fatalf("request without traceparent: trace %s parent %v, want a new root", fresh.SpanContext.TraceID(), fresh.Parent)
	}
}

// TestRequestSpanRecordsErrors: a 5xx sets the span's status to Error; a
// 4xx is noted with its code but is not a failure of the service.
func TestRequestSpanRecordsErrors(t *testing.T) {
	srv := fntest.NewServer(t)
	rec := newSpanRecorder(t)
	cfg := srv.Config("traced")
	cfg = rec.built(cfg)
	fntest.RunConfig(t, cfg, echoService(4))
	nc := srv.Connect(t)
	for _, body := range []string{`{"msg":"boom"}`, `{"msg":"missing"}`} {
		if _, err := nc.Request("echo.say", []byte(body), 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	fntest.Eventually(t, 20*time.Second, "two spans", func() bool { return len(rec.find("process echo.say")) == 2 })
	for _, s := range rec.find("process echo.say") {
		code := attr(s, "natsfn.error.code")
		switch code {
		case "500":
			if s.Status.Code != codes.Error || attr(s, "error.type") != "internal" {
				t.Errorf("500: status %v, error.type %q", s.Status, attr(s, "error.type"))
			}
		case "404":
			if s.Status.Code == codes.Error || attr(s, "error.type") != "not_found" {
				t.Errorf("404: status %v, error.type %q", s.Status, attr(s, "error.type"))
			}
		default:
			t.Errorf("span with code %q", code)
		}
		if len(s.Events) == 0 || s.Events[0].Name != "exception" {
			t.Errorf("code %s: error not recorded as an event: %v", code, s.Events)
		}
	}
}

// TestEventTraceCrossesEmit: one order is one trace. The consumer span of
// an event continues the producer's traceparent; the handler's Emit is a
// producer span under it whose traceparent is in the event's headers; the
// downstream handler's consumer span is that producer span's child.
func TestEventTraceCrossesEmit(t *testing.T) {
	srv := fntest.NewServer(t)
	rec := newSpanRecorder(t)
	svc := runtime.NewService(runtime.ServiceConfig{Name: "relay", Version: "1.0.0"})
	jobsStream(svc)
	runtime.OnEvent(svc, "forward", jobsIn, func(ctx context.Context, in event) error {
		return runtime.Emit(ctx, jobsOut, event{ID: in.ID})
	})
	done := make(chan struct{}, 1)
	sink := runtime.NewService(runtime.ServiceConfig{Name: "sink", Version: "1.0.0"})
	runtime.OnEvent(sink, "finish", jobsOut, func(ctx context.Context, in event) error {
		done <- struct{}{}
		return nil
	})
	cfg := srv.Config("traced")
	cfg = rec.built(cfg)
	fntest.RunConfig(t, cfg, svc, sink)

	js := srv.JetStream(t)
	header, tid, sid := traceparent()
	msg := natsMsg(jobsIn.subject, `{"id":"o-1"}`)
	msg.Header["traceparent"] = []string{header}
	msg.Header.Set(runtime.HeaderCorrelationID, "corr-o-1")
	if _, err := js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("downstream handler never ran")
	}

	consume := rec.one(t, "process jobs.created")
	send := rec.one(t, "send jobs.done")
	downstream := rec.one(t, "process jobs.done")
	for name, s := range map[string]struct {
		span   trace.SpanKind
		got    trace.SpanKind
		parent trace.SpanID
		want   trace.SpanID
		trace  trace.TraceID
	}{
		"consumer":   {trace.SpanKindConsumer, consume.SpanKind, consume.Parent.SpanID(), sid, consume.SpanContext.TraceID()},
		"producer":   {trace.SpanKindProducer, send.SpanKind, send.Parent.SpanID(), consume.SpanContext.SpanID(), send.SpanContext.TraceID()},
		"downstream": {trace.SpanKindConsumer, downstream.SpanKind, downstream.Parent.SpanID(), send.SpanContext.SpanID(), downstream.SpanContext.TraceID()},
	} {
		if s.got != s.span {
			t.Errorf("%s span kind %v, want %v", name, s.got, s.span)
		}
		if s.trace != tid {
			t.Errorf("%s span in trace %s, want %s", name, s.trace, tid)
		}
		if s.parent != s.want {
			t.Errorf("%s span parent %s, want %s", name, s.parent, s.want)
		}
	}
	for key, want := range map[string]string{
		"messaging.consumer.group.name":         "relay-forward",
		"messaging.operation.type":              "process",
		"messaging.nats.message.delivery_count": "1",
		"messaging.nats.stream.name":            "JOBS",
		"natsfn.correlation_id":                 "corr-o-1",
		"messaging.destination.name":            "jobs.created",
		"messaging.nats.stream.sequence":        "1",
		"messaging.system":                      "nats",
		"messaging.message.id":                  "JOBS:1",
	} {
		if got := attr(consume, key); got != want {
			t.Errorf("consumer attribute %s = %q, want %q", key, got, want)
		}
	}
	if attr(send, "messaging.operation.type") != "send" || attr(send, "messaging.destination.name") != "jobs.done" ||
		!strings.HasPrefix(attr(send, "messaging.message.id"), "JOBS:1:relay-forward:jobs.done:") {
		t.Errorf("producer attributes %v", send.Attributes)
	}

	// The stored event carries the producer span's context, lowercase.
	st, err := js.Stream(context.Background(), "JOBS")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := st.GetLastMsgForSubject(context.Background(), jobsOut.subject)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("00-%s-%s-01", tid, send.SpanContext.SpanID())
	if got := raw.Header["traceparent"]; len(got) != 1 || got[0] != want {
		t.Fatalf("event traceparent %v, want %s", got, want)
	}
}

// TestDeadLetterSpan: a terminated event's dead letter is published in a
// producer span under the failed consumer span, whose status is Error.
func TestDeadLetterSpan(t *testing.T) {
	srv := fntest.NewServer(t)
	rec := newSpanRecorder(t)
	svc := runtime.NewService(runtime.ServiceConfig{Name: "strict", Version: "1.0.0"})
	jobsStream(svc)
	runtime.OnEvent(svc, "check", jobsIn, func(ctx context.Context, in event) error {
		return fmt.Errorf("job %s: %w", in.ID, runtime.ErrInvalid)
	})
	cfg := srv.Config("traced")
	cfg = rec.built(cfg)
	fntest.RunConfig(t, cfg, svc)
	publish(t, srv.JetStream(t), jobsIn, event{ID: "bad"})

	dl := rec.one(t, "send deadletter.strict.check")
	consume := rec.one(t, "process jobs.created")
	if dl.SpanKind != trace.SpanKindProducer || dl.Parent.SpanID() != consume.SpanContext.SpanID() ||
		dl.SpanContext.TraceID() != consume.SpanContext.TraceID() {
		t.Fatalf("dead-letter span kind %v parent %s, want producer under %s", dl.SpanKind, dl.Parent.SpanID(), consume.SpanContext.SpanID())
	}
	if consume.Status.Code != codes.Error || attr(consume, "natsfn.error.code") != "400" {
		t.Fatalf("consumer span status %v code %q", consume.Status, attr(consume, "natsfn.error.code"))
	}
}

// TestStartSpan: a handler's own span is a child of its server span; with
// tracing off StartSpan hands back a span that records nothing.
func TestStartSpan(t *testing.T) {
	srv := fntest.NewServer(t)
	rec := newSpanRecorder(t)
	recording := make(chan bool, 2)
	newSvc := func(name string) *runtime.Service {
		svc := runtime.NewService(runtime.ServiceConfig{Name: name, Version: "1.0.0"})
		runtime.Endpoint(svc, "work", func(ctx context.Context, in echoIn) (echoOut, error) {
			_, span := runtime.StartSpan(ctx, "kv.update stock", attribute.String("kv.key", "sku-1"))
			recording <- span.IsRecording()
			runtime.EndSpan(span, fmt.Errorf("revision mismatch: %w", runtime.ErrConflict))
			return echoOut{Echo: in.Msg}, nil
		})
		return svc
	}
	cfg := srv.Config("traced")
	cfg.TracerProvider = rec
	fntest.RunConfig(t, cfg, newSvc("on"))
	fntest.Run(t, srv, newSvc("off"))
	nc := srv.Connect(t)
	for _, subj := range []string{"on.work", "off.work"} {
		if _, err := nc.Request(subj, []byte(`{"msg":"x"}`), 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if on, off := <-recording, <-recording; !on || off {
		t.Fatalf("recording: on=%v off=%v", on, off)
	}
	child := rec.one(t, "kv.update stock")
	server := rec.one(t, "process on.work")
	if child.Parent.SpanID() != server.SpanContext.SpanID() || attr(child, "kv.key") != "sku-1" ||
		child.Status.Code != codes.Error || attr(child, "natsfn.error.code") != "409" {
		t.Fatalf("child span parent %s (server %s), attrs %v, status %v", child.Parent.SpanID(), server.SpanContext.SpanID(), child.Attributes, child.Status)
	}
}

// TestTraceparentPassesThroughWhenOff: a function with tracing off records
// nothing but keeps the trace going: its emits carry the trigger's
// traceparent.
func TestTraceparentPassesThroughWhenOff(t *testing.T) {
	srv := fntest.NewServer(t)
	svc := runtime.NewService(runtime.ServiceConfig{Name: "quiet", Version: "1.0.0"})
	jobsStream(svc)
	runtime.OnEvent(svc, "forward", jobsIn, func(ctx context.Context, in event) error {
		return runtime.Emit(ctx, jobsOut, event{ID: in.ID})
	})
	fntest.Run(t, srv, svc)
	js := srv.JetStream(t)
	header, _, _ := traceparent()
	msg := natsMsg(jobsIn.subject, `{"id":"p"}`)
	msg.Header["traceparent"] = []string{header}
	if _, err := js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	fntest.Eventually(t, 20*time.Second, "the emitted event", func() bool { return subjectCount(t, js, "JOBS", jobsOut.subject) == 1 })
	st, _ := js.Stream(context.Background(), "JOBS")
	raw, err := st.GetLastMsgForSubject(context.Background(), jobsOut.subject)
	if err != nil {
		t.Fatal(err)
	}
	if got := nats.Header(raw.Header)["traceparent"]; len(got) != 1 || got[0] != header {
		t.Fatalf("traceparent %v, want %s", got, header)
	}
}
