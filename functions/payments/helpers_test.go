package payments

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// harness is a server with the streams payments consumes, and a client.
type harness struct {
	t   *testing.T
	srv *fntest.Server
	js  jetstream.JetStream
	nc  *nats.Conn
}

// newHarness starts a server and creates the INVENTORY and ORDERS
// streams, which the inventory and orders functions would own.
func newHarness(t *testing.T) *harness {
	t.Helper()
	srv := fntest.NewServer(t)
	h := &harness{t: t, srv: srv, js: srv.JetStream(t), nc: srv.Connect(t)}
	for _, name := range []string{contracts.StreamInventory, contracts.StreamOrders} {
		if _, err := h.js.CreateStream(context.Background(), streamConfig(name)); err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
	}
	return h
}

// start runs one payments instance until the test ends.
func (h *harness) start(instance string, cfg Config) *function {
	h.t.Helper()
	f, svc := newFunction(cfg)
	fntest.RunConfig(h.t, h.srv.Config(instance), svc)
	return f
}

// publish publishes an event with the given Msg-Id.
func (h *harness) publish(subject, msgID string, v any) {
	h.t.Helper()
	fntest.Publish(h.t, h.js, subject, msgID, v)
}

// reserved publishes inventory.reserved for an order of total cents.
func (h *harness) reserved(orderID, msgID string, total int64) {
	h.t.Helper()
	h.publish(contracts.SubjectInventoryReserved, msgID, contracts.InventoryReservedEvent{
		OrderID:    orderID,
		Items:      []contracts.ReservedItem{{ProductID: "sku-1", Quantity: 1, UnitPriceCents: total}},
		TotalCents: total,
	})
}

// setGateway calls payments.gateway.set and returns the reply.
func (h *harness) setGateway(body string) contracts.GatewayReply {
	h.t.Helper()
	data, code := h.request(contracts.SubjectPaymentsGatewaySet, body)
	if code != "" {
		h.t.Fatalf("gateway.set %s: %s %s", body, code, data)
	}
	var r contracts.GatewayReply
	if err := json.Unmarshal(data, &r); err != nil {
		h.t.Fatal(err)
	}
	return r
}

// request calls an endpoint and returns the reply body and its error code.
func (h *harness) request(subject, body string) ([]byte, string) {
	h.t.Helper()
	return fntest.Request(h.t, h.nc, subject, []byte(body))
}

// event is a message stored in a stream.
type event struct {
	Header nats.Header
	Data   []byte
}

// events returns every message of a stream on a subject, oldest first.
func (h *harness) events(stream, subject string) []event {
	h.t.Helper()
	var out []event
	for _, m := range fntest.Messages(h.t, h.js, stream, subject) {
		out = append(out, event{Header: m.Header, Data: m.Data})
	}
	return out
}

// completed, failed and refunded decode the payments events by order id.
func (h *harness) completed() map[string]contracts.PaymentCompletedEvent {
	return decodeEvents(h, contracts.SubjectPaymentsCompleted, func(e contracts.PaymentCompletedEvent) string { return e.OrderID })
}

func (h *harness) failed() map[string]contracts.PaymentFailedEvent {
	return decodeEvents(h, contracts.SubjectPaymentsFailed, func(e contracts.PaymentFailedEvent) string { return e.OrderID })
}

func (h *harness) refunded() map[string]contracts.PaymentRefundedEvent {
	return decodeEvents(h, contracts.SubjectPaymentsRefunded, func(e contracts.PaymentRefundedEvent) string { return e.OrderID })
}

// decodeEvents decodes the PAYMENTS events on a subject, keyed by order id.
func decodeEvents[T any](h *harness, subject string, orderID func(T) string) map[string]T {
	h.t.Helper()
	out := map[string]T{}
	for _, ev := range h.events(contracts.StreamPayments, subject) {
		var v T
		if err := json.Unmarshal(ev.Data, &v); err != nil {
			h.t.Fatal(err)
		}
		out[orderID(v)] = v
	}
	return out
}

// refunds reads the gateway ledger's refunds.
func (h *harness) refunds() map[string]int {
	h.t.Helper()
	r, err := Refunds(h.t.Context(), h.js)
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

// charges reads the gateway's ledger.
func (h *harness) charges() map[string]int {
	h.t.Helper()
	c, err := Charges(h.t.Context(), h.js)
	if err != nil {
		h.t.Fatal(err)
	}
	return c
}

// paymentState reads an order's payment record.
func (h *harness) paymentState(orderID string) state {
	h.t.Helper()
	kv, err := h.js.KeyValue(context.Background(), contracts.BucketPayments)
	if err != nil {
		h.t.Fatal(err)
	}
	e, err := kv.Get(context.Background(), orderID)
	if err != nil {
		return ""
	}
	var r record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		h.t.Fatal(err)
	}
	return r.State
}

// settled waits until a durable consumer has acknowledged every message
// published so far on its subject.
func (h *harness) settled(stream, consumer string) {
	h.t.Helper()
	fntest.Settled(h.t, h.js, stream, consumer)
}
