package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/functions/orders"
	"github.com/natsfn/natsfn/functions/payments"
	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestOrderTraceContinuesTraceparent: an order placed with a W3C
// traceparent is one trace from the caller's span to orders.confirmed,
// across orders, inventory and payments, with every span under the one
// that caused it.
func TestOrderTraceContinuesTraceparent(t *testing.T) {
	f, exp := startTracedFlow(t)
	f.setStock("sku-a", 10, 1250)
	tid, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	sid, _ := trace.SpanIDFromHex("00f067aa0ba902b7")

	id := f.placeTraced("00-"+tid.String()+"-"+sid.String()+"-01", item("sku-a", 2))
	if v := f.settle(id, 15*time.Second); v.Status != contracts.StatusConfirmed {
		t.Fatalf("order %+v", v)
	}
	tr := waitOrderTrace(t, exp, id)
	if tr.id != tid {
		t.Fatalf("order %s is in trace %s, want the request's %s", id, tr.id, tid)
	}
	root := tr.hops["create"][0]
	if root.Parent.SpanID() != sid || !root.Parent.IsRemote() {
		t.Fatalf("orders.create span parent %s (remote %v), want the caller's span %s", root.Parent.SpanID(), root.Parent.IsRemote(), sid)
	}
	tr.checkOrder(t, exp, id)
}

// TestOrderTraceStartsAtCreate: without a traceparent the trace starts at
// orders.create, and the rest of the order is still that one trace.
func TestOrderTraceStartsAtCreate(t *testing.T) {
	f, exp := startTracedFlow(t)
	f.setStock("sku-a", 10, 1250)
	id := f.placeTraced("", item("sku-a", 2))
	if v := f.settle(id, 15*time.Second); v.Status != contracts.StatusConfirmed {
		t.Fatalf("order %+v", v)
	}
	tr := waitOrderTrace(t, exp, id)
	if root := tr.hops["create"][0]; root.Parent.IsValid() {
		t.Fatalf("orders.create span has parent %s, want none", root.Parent.SpanID())
	}
	tr.checkOrder(t, exp, id)
}

// startTracedFlow runs each function as its own process would: its own
// runtime.Start with its own tracer provider, whose resource names the
// function (service.name), every provider exporting into one in-memory
// exporter. (One Start with one Config.TracerProvider would give every
// span the same service.name.)
func startTracedFlow(t *testing.T) (*flow, *tracetest.InMemoryExporter) {
	t.Helper()
	srv := fntest.NewServer(t)
	exp := tracetest.NewInMemoryExporter()
	services := []*runtime.Service{
		orders.New(orders.Config{}),
		inventory.New(inventory.Config{}),
		payments.New(payments.Config{}),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	instances := make([]*runtime.Instance, len(services))
	var providers []*sdktrace.TracerProvider
	// The functions start together: each waits for the streams the
	// others create.
	var g errgroup.Group
	for i, svc := range services {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
			sdktrace.WithResource(resource.NewSchemaless(semconv.ServiceName(svc.Name()))))
		providers = append(providers, tp)
		cfg := srv.Config(svc.Name())
		cfg.TracerProvider = tp
		g.Go(func() (err error) {
			instances[i], err = runtime.Start(ctx, cfg, svc)
			return err
		})
	}
	startErr := g.Wait()
	t.Cleanup(func() {
		for _, inst := range instances {
			if inst != nil {
				if err := inst.Stop(); err != nil {
					t.Error(err)
				}
			}
		}
		for _, tp := range providers {
			_ = tp.Shutdown(context.Background())
		}
	})
	if startErr != nil {
		t.Fatalf("did not start: %v", startErr)
	}
	return connectFlow(t, srv), exp
}

// placeTraced places an order with an Idempotency-Key and, unless empty,
// a traceparent header (lowercase, as W3C and NATS have it).
func (f *flow) placeTraced(traceparent string, items ...contracts.OrderItem) string {
	f.t.Helper()
	body, _ := json.Marshal(contracts.CreateOrderRequest{CustomerID: "c-1", Items: items})
	headers := []string{runtime.HeaderIdempotencyKey, "key-" + fmt.Sprint(time.Now().UnixNano())}
	if traceparent != "" {
		headers = append(headers, "traceparent", traceparent)
	}
	r := f.request(contracts.SubjectOrdersCreate, body, headers...)
	if r.code != 0 {
		f.t.Fatalf("create: %d %s", r.code, r.desc)
	}
	var reply contracts.CreateOrderReply
	if err := json.Unmarshal(r.data, &reply); err != nil || reply.OrderID == "" {
		f.t.Fatalf("create replied %s: %v", r.data, err)
	}
	return reply.OrderID
}

// hop is a span a confirmed order's trace holds: its name, the consumer
// group of a consumer span, the function that makes it, its kind, the hop
// it is a child of, and the attributes it carries ({id} stands for the
// order id, "" for any value).
type hop struct {
	key, name, group, function string
	kind                       trace.SpanKind
	parent                     string
	attrs                      map[string]string
}

// kvHop is the span of a KV write the handler of parent makes.
func kvHop(key, name, function, parent, kvKey string) hop {
	return hop{key: key, name: name, function: function, kind: trace.SpanKindInternal, parent: parent,
		attrs: map[string]string{"kv.key": kvKey, "kv.outcome": "written"}}
}

// orderHops is the path of a confirmed order, each hop after its parent.
var orderHops = []hop{
	{key: "create", name: "process orders.create", function: "orders", kind: trace.SpanKindServer},
	kvHop("claim", "kv.create idempotency", "orders", "create", ""),
	{key: "created", name: "send orders.created", function: "orders", kind: trace.SpanKindProducer, parent: "create"},
	// Event first: orders.create publishes, then stores the order, and
	// orders' own consumer of orders.created stores it if it is not
	// stored yet; whichever comes first writes it, the other finds it.
	{key: "store", name: "process orders.created", group: "orders-order-created", function: "orders", kind: trace.SpanKindConsumer, parent: "created"},
	kvHop("order", "kv.create orders", "orders", "", "{id}"),
	{key: "reserve", name: "process orders.created", group: "inventory-reserve", function: "inventory", kind: trace.SpanKindConsumer, parent: "created"},
	// The stock of the order's line and its reservation, in one atomic batch.
	{key: "reservation", name: "kv.commit stock", function: "inventory", kind: trace.SpanKindInternal, parent: "reserve",
		attrs: map[string]string{"kv.keys": `["sku-a","reservation/{id}"]`, "kv.outcome": "written"}},
	{key: "reserved", name: "send inventory.reserved", function: "inventory", kind: trace.SpanKindProducer, parent: "reserve"},
	{key: "charge", name: "process inventory.reserved", group: "payments-charge", function: "payments", kind: trace.SpanKindConsumer, parent: "reserved"},
	kvHop("payment", "kv.create payments", "payments", "charge", "{id}"),
	{key: "gateway", name: "gateway.charge", function: "payments", kind: trace.SpanKindInternal, parent: "charge",
		attrs: map[string]string{"order_id": "{id}", "amount_cents": "2500", "gateway.outcome": "charged"}},
	kvHop("ledger", "kv.create gateway", "payments", "gateway", "charge.{id}"),
	kvHop("paid", "kv.update payments", "payments", "charge", "{id}"),
	{key: "completed", name: "send payments.completed", function: "payments", kind: trace.SpanKindProducer, parent: "charge"},
	{key: "project-reserved", name: "process inventory.reserved", group: "orders-inventory-reserved", function: "orders", kind: trace.SpanKindConsumer, parent: "reserved"},
	kvHop("order-reserved", "kv.update orders", "orders", "project-reserved", "{id}"),
	{key: "project-completed", name: "process payments.completed", group: "orders-payment-completed", function: "orders", kind: trace.SpanKindConsumer, parent: "completed"},
	kvHop("order-confirmed", "kv.update orders", "orders", "project-completed", "{id}"),
	{key: "confirmed", name: "send orders.confirmed", function: "orders", kind: trace.SpanKindProducer, parent: "project-completed"},
}

// orderTrace is the spans of one order's trace, and those found for each
// hop (a redelivery may give a hop more than one).
type orderTrace struct {
	id    trace.TraceID
	spans []tracetest.SpanStub
	hops  map[string][]tracetest.SpanStub
}

// waitOrderTrace finds the trace of order id (that of its kv.create orders
// span) and waits until it holds every hop of orderHops: the last spans end
// after the order reads confirmed.
func waitOrderTrace(t *testing.T, exp *tracetest.InMemoryExporter, id string) *orderTrace {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		tr, missing := matchOrderTrace(exp.GetSpans(), id)
		if len(missing) == 0 {
			return tr
		}
		if time.Now().After(deadline) {
			t.Fatalf("order %s: trace %s lacks %v; it holds:\n%s", id, tr.id, missing, tr.describe())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// matchOrderTrace picks the spans of order id's trace for each hop: a span
// with the hop's name (and consumer group) whose parent is a span of the
// hop's parent. It returns the hops it found none for.
func matchOrderTrace(all []tracetest.SpanStub, id string) (*orderTrace, []string) {
	tr := &orderTrace{hops: map[string][]tracetest.SpanStub{}}
	for _, s := range all {
		if s.Name == "kv.create orders" && attr(s, "kv.key") == id {
			tr.id = s.SpanContext.TraceID()
		}
	}
	for _, s := range all {
		if tr.id.IsValid() && s.SpanContext.TraceID() == tr.id {
			tr.spans = append(tr.spans, s)
		}
	}
	var missing []string
	for _, h := range orderHops {
		parents := map[trace.SpanID]bool{}
		for _, p := range tr.hops[h.parent] {
			parents[p.SpanContext.SpanID()] = true
		}
		for _, s := range tr.spans {
			if s.Name == h.name && (h.group == "" || attr(s, "messaging.consumer.group.name") == h.group) &&
				(h.parent == "" || parents[s.Parent.SpanID()]) {
				tr.hops[h.key] = append(tr.hops[h.key], s)
			}
		}
		if len(tr.hops[h.key]) == 0 {
			missing = append(missing, h.key)
		}
	}
	return tr, missing
}

// checkOrder checks what matching the hops leaves open: each hop's kind,
// function and attributes; that the trace spans the three functions; and
// that no span of the order's messages or records lies outside it.
func (tr *orderTrace) checkOrder(t *testing.T, exp *tracetest.InMemoryExporter, id string) {
	t.Helper()
	functions := map[string]bool{}
	for _, s := range tr.spans {
		functions[serviceName(s)] = true
	}
	for _, fn := range []string{"orders", "inventory", "payments"} {
		if !functions[fn] {
			t.Errorf("trace %s has no span of %s; functions %v", tr.id, fn, functions)
		}
	}
	for _, h := range orderHops {
		written := 0
		for _, s := range tr.hops[h.key] {
			// The orders projections race for the order's entry: a write
			// that lost the compare-and-swap is a span of its own, retried;
			// so is the create that found the order stored by the other
			// of the create path and the projection.
			if out := attr(s, "kv.outcome"); strings.HasPrefix(s.Name, "kv.") && (out == "revision_mismatch" || out == "key_exists") {
				if attr(s, "kv.bucket") == "" || serviceName(s) != h.function {
					t.Errorf("%s (%s): a lost compare-and-swap without its bucket, or in %q: %v", h.key, s.Name, serviceName(s), s.Attributes)
				}
				continue
			}
			written++
			if s.SpanKind != h.kind || serviceName(s) != h.function {
				t.Errorf("%s (%s): kind %v in %q, want %v in %q", h.key, s.Name, s.SpanKind, serviceName(s), h.kind, h.function)
			}
			for k, want := range h.attrs {
				want = strings.ReplaceAll(want, "{id}", id)
				if got := attr(s, k); (want == "" && got == "") || (want != "" && got != want) {
					t.Errorf("%s (%s): %s = %q, want %q", h.key, s.Name, k, got, want)
				}
			}
			if strings.HasPrefix(s.Name, "kv.") && (attr(s, "kv.revision") == "" || attr(s, "kv.bucket") == "") {
				t.Errorf("%s (%s): no bucket or revision: %v", h.key, s.Name, s.Attributes)
			}
		}
		if written == 0 {
			t.Errorf("%s (%s): every span lost its compare-and-swap; none wrote", h.key, h.name)
		}
	}
	// One order runs in this flow, so every span of its messages and of
	// its records is in its trace.
	names := map[string]bool{}
	for _, h := range orderHops {
		if h.key != "create" && !strings.HasPrefix(h.name, "kv.") {
			names[h.name] = true
		}
	}
	for _, s := range exp.GetSpans() {
		key := attr(s, "kv.key")
		ofOrder := names[s.Name] || attr(s, "order_id") == id || key == id || key == "charge."+id
		if ofOrder && s.SpanContext.TraceID() != tr.id {
			t.Errorf("span %s (%s %s) is in trace %s, not the order's %s", s.Name, serviceName(s), key, s.SpanContext.TraceID(), tr.id)
		}
	}
}

// describe lists a trace's spans, for a failure message.
func (tr *orderTrace) describe() string {
	var lines []string
	for _, s := range tr.spans {
		lines = append(lines, fmt.Sprintf("  %s %s [%s] parent %s %s", s.SpanContext.SpanID(), s.Name, serviceName(s),
			s.Parent.SpanID(), attr(s, "messaging.consumer.group.name")))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// serviceName is the service.name of the resource a span was made with.
func serviceName(s tracetest.SpanStub) string {
	if s.Resource == nil {
		return ""
	}
	v, _ := s.Resource.Set().Value(semconv.ServiceNameKey)
	return v.AsString()
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
