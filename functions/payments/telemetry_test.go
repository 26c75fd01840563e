package payments

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// observed is a payments instance whose spans, metrics and logs the test
// reads.
type observed struct {
	*function
	spans   *tracetest.InMemoryExporter
	metrics *fntest.Metrics
	logs    *syncBuffer
}

// startObserved runs one payments instance with an in-memory span
// exporter, a manually read meter provider and a JSON log buffer.
func (h *harness) startObserved(cfg Config) *observed {
	h.T.Helper()
	o := &observed{spans: tracetest.NewInMemoryExporter(), metrics: fntest.NewMetrics(), logs: &syncBuffer{}}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(o.spans))
	mp := o.metrics
	h.T.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	f, svc := newFunction(cfg)
	rc := h.Server.Config("pay-1")
	rc.TracerProvider, rc.MeterProvider = tp, mp
	rc.Logger = slog.New(slog.NewJSONHandler(o.logs, nil))
	fntest.RunConfig(h.T, rc, svc)
	o.function = f
	return o
}

// spansNamed returns the ended spans with a name.
func (o *observed) spansNamed(name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range o.spans.GetSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
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

// TestBreakerMetrics: during an outage the breaker gauge reads 2 (open),
// and the openings, pauses and outage calls are counted; once the gateway
// is back the order is charged and the gauge reads 0 (closed).
func TestBreakerMetrics(t *testing.T) {
	h := newHarness(t)
	o := h.startObserved(Config{Breaker: BreakerConfig{Failures: 1, OpenTimeout: time.Second}})
	if v, ok := o.metrics.Value("payments.breaker.state", "function", "payments"); !ok || v != 0 {
		t.Fatalf("breaker gauge %d (reported %v), want 0", v, ok)
	}
	h.setGateway(`{"mode":"outage"}`)
	fntest.Eventually(t, 20*time.Second, "outage mode", func() bool { return o.sim.current().Mode == contracts.GatewayOutage })
	h.reserved("o-1", "m-1", 500)

	// The gauge moves inside the breaker's state change, before the pause
	// (a JetStream API call) is made and counted, so wait for all four.
	counted := []struct {
		name   string
		labels []string
	}{
		{"payments.breaker.opens", nil},
		{"payments.charge.pauses", nil},
		{"payments.gateway.charges", []string{"outcome", "outage"}},
	}
	fntest.Eventually(t, 10*time.Second, "the breaker gauge at 2 (open), the opening, pause and outage call counted", func() bool {
		if v, _ := o.metrics.Value("payments.breaker.state", "function", "payments"); v != 2 {
			return false
		}
		for _, c := range counted {
			if v, _ := o.metrics.Value(c.name, append([]string{"function", "payments"}, c.labels...)...); v < 1 {
				return false
			}
		}
		return true
	})

	h.setGateway(`{"mode":"ok"}`)
	fntest.Eventually(t, 15*time.Second, "the order charged", func() bool { return len(h.completed()) == 1 })
	fntest.Eventually(t, 20*time.Second, "one charged call and the gauge at 0", func() bool {
		charged, _ := o.metrics.Value("payments.gateway.charges", "function", "payments", "outcome", "charged")
		state, _ := o.metrics.Value("payments.breaker.state", "function", "payments")
		return charged == 1 && state == 0
	})
}

// TestGatewaySpan: each gateway call is a gateway.charge span under the
// charge handler's span, with the order, amount and outcome; a decline is
// not an error; the ledger write is a KV span under the gateway call and
// the payment record's writes are KV spans under the handler.
func TestGatewaySpan(t *testing.T) {
	h := newHarness(t)
	o := h.startObserved(Config{})
	h.reserved("o-1", "m-1", 700)
	fntest.Eventually(t, 10*time.Second, "o-1 charged", func() bool { return len(h.completed()) == 1 })
	h.setGateway(`{"mode":"decline"}`)
	fntest.Eventually(t, 20*time.Second, "decline mode", func() bool { return o.sim.current().Mode == contracts.GatewayDecline })
	h.reserved("o-2", "m-2", 300)
	fntest.Eventually(t, 10*time.Second, "o-2 declined", func() bool { return len(h.failed()) == 1 })
	fntest.Eventually(t, 20*time.Second, "two charge spans", func() bool { return len(o.spansNamed("process inventory.reserved")) == 2 })

	handlers := map[string]tracetest.SpanStub{} // by span id
	for _, s := range o.spansNamed("process inventory.reserved") {
		handlers[s.SpanContext.SpanID().String()] = s
	}
	calls := map[string]tracetest.SpanStub{} // by order id
	for _, s := range o.spansNamed("gateway.charge") {
		calls[attr(s, "order_id")] = s
	}
	for id, want := range map[string]struct{ amount, outcome string }{
		"o-1": {"700", "charged"},
		"o-2": {"300", "declined"},
	} {
		s, ok := calls[id]
		if !ok {
			t.Fatalf("no gateway.charge span for %s", id)
		}
		if attr(s, "amount_cents") != want.amount || attr(s, "gateway.outcome") != want.outcome || s.Status.Code == codes.Error {
			t.Errorf("%s: gateway.charge %v status %v, want amount %s outcome %s", id, s.Attributes, s.Status, want.amount, want.outcome)
		}
		if (attr(s, "payment_id") != "") != (want.outcome == "charged") {
			t.Errorf("%s: payment_id %q", id, attr(s, "payment_id"))
		}
		if _, ok := handlers[s.Parent.SpanID().String()]; !ok {
			t.Errorf("%s: gateway.charge parent %s is not a charge handler span", id, s.Parent.SpanID())
		}
	}
	for _, s := range o.spansNamed("kv.create gateway") {
		key := attr(s, "kv.key")
		if !strings.HasPrefix(key, "charge.") {
			continue // the settings, written by gateway.set
		}
		if call, ok := calls[strings.TrimPrefix(key, "charge.")]; !ok || s.Parent.SpanID() != call.SpanContext.SpanID() {
			t.Errorf("ledger write %s: parent %s, want its order's gateway call", key, s.Parent.SpanID())
		}
	}
	// The payment record's writes (key = order id) sit under the handler
	// span that made the order's gateway call.
	for _, name := range []string{"kv.create payments", "kv.update payments"} {
		spans := o.spansNamed(name)
		if len(spans) != 2 {
			t.Errorf("%d %s spans, want 2", len(spans), name)
		}
		for _, s := range spans {
			call := calls[attr(s, "kv.key")]
			if s.Parent.SpanID() != call.Parent.SpanID() {
				t.Errorf("%s %s: parent %s, want the charge handler span %s", name, attr(s, "kv.key"), s.Parent.SpanID(), call.Parent.SpanID())
			}
		}
	}
}

// TestCancelTelemetry: a void's gateway call is a gateway.cancel span under
// the void handler's span, with its outcome (refunded, with the payment and
// amount, or voided), and payments.gateway.cancels counts it.
func TestCancelTelemetry(t *testing.T) {
	h := newHarness(t)
	o := h.startObserved(Config{})
	h.reserved("o-paid", "m-1", 700)
	fntest.Eventually(t, 10*time.Second, "o-paid charged", func() bool { return len(h.completed()) == 1 })
	// o-paid is refunded; o-open, cancelled with its charge under way as
	// far as the record says, is voided.
	h.Publish(contracts.SubjectOrdersCancelled, "c-1", contracts.OrderCancelledEvent{OrderID: "o-paid", Reason: contracts.ReasonCancelledByCustomer})
	kv, err := h.JS.KeyValue(t.Context(), contracts.BucketPayments)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(t.Context(), "o-open", []byte(`{"order_id":"o-open","state":"charging","amount_cents":50}`)); err != nil {
		t.Fatal(err)
	}
	h.Publish(contracts.SubjectOrdersCancelled, "c-2", contracts.OrderCancelledEvent{OrderID: "o-open", Reason: contracts.ReasonCancelledByCustomer})
	fntest.Eventually(t, 10*time.Second, "two gateway.cancel spans", func() bool { return len(o.spansNamed("gateway.cancel")) == 2 })
	// A handler's span ends, and is recorded, after its children's.
	fntest.Eventually(t, 10*time.Second, "two void handler spans", func() bool {
		return len(o.spansNamed("process orders.cancelled")) >= 2
	})

	voids := map[string]bool{}
	for _, s := range o.spansNamed("process orders.cancelled") {
		voids[s.SpanContext.SpanID().String()] = true
	}
	for _, s := range o.spansNamed("gateway.cancel") {
		want := map[string]string{"o-paid": "refunded", "o-open": "voided"}[attr(s, "order_id")]
		if want == "" || attr(s, "gateway.outcome") != want || s.Status.Code == codes.Error {
			t.Errorf("gateway.cancel %v status %v", s.Attributes, s.Status)
		}
		if (attr(s, "amount_cents") == "700") != (want == "refunded") {
			t.Errorf("gateway.cancel %v: amount_cents only on the refund, 700", s.Attributes)
		}
		if !voids[s.Parent.SpanID().String()] {
			t.Errorf("gateway.cancel %s: parent %s is not a void handler span", attr(s, "order_id"), s.Parent.SpanID())
		}
	}
	for _, outcome := range []string{"refunded", "voided"} {
		if v, _ := o.metrics.Value("payments.gateway.cancels", "function", "payments", "outcome", outcome); v != 1 {
			t.Errorf("payments.gateway.cancels{outcome=%s} = %d, want 1", outcome, v)
		}
	}
	if s1, s2 := h.paymentState("o-paid"), h.paymentState("o-open"); s1 != stateRefunded || s2 != stateVoided {
		t.Errorf("records %q and %q, want refunded and voided", s1, s2)
	}
}

// TestHandlerLogsCarryTrace: a line a handler logs carries the function,
// handler, correlation id, and the trace and span of the handler's span.
func TestHandlerLogsCarryTrace(t *testing.T) {
	h := newHarness(t)
	o := h.startObserved(Config{})
	h.Publish(contracts.SubjectOrdersCancelled, "c-1", contracts.OrderCancelledEvent{OrderID: "o-1", Reason: contracts.ReasonCancelledByCustomer})
	fntest.Eventually(t, 10*time.Second, "the void span", func() bool { return len(o.spansNamed("process orders.cancelled")) == 1 })
	span := o.spansNamed("process orders.cancelled")[0]

	var line map[string]any
	for l := range strings.SplitSeq(o.logs.String(), "\n") {
		if strings.Contains(l, "payment voided before the charge") {
			if err := json.Unmarshal([]byte(l), &line); err != nil {
				t.Fatal(err)
			}
		}
	}
	if line == nil {
		t.Fatalf("no void log line in:\n%s", o.logs.String())
	}
	for key, want := range map[string]string{
		"function":       "payments",
		"handler":        "void",
		"order_id":       "o-1",
		"correlation_id": "corr-c-1",
		"trace_id":       span.SpanContext.TraceID().String(),
		"span_id":        span.SpanContext.SpanID().String(),
	} {
		if got, _ := line[key].(string); got != want {
			t.Errorf("log %s = %q, want %q", key, got, want)
		}
	}
}

// syncBuffer captures logs written concurrently.
type syncBuffer = fntest.Buffer
