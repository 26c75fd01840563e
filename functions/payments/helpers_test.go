package payments

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// harness is a server with the streams payments consumes, a client, and a
// stand-in for orders.get.
type harness struct {
	*fntest.Client
	// orders answers orders.get: the status of an order, "reserved" when
	// it is not listed, and a 404 for the status "unknown".
	orders sync.Map // order id → contracts.OrderStatus
	// asked counts the orders.get requests.
	asked atomic.Int64
}

// unknownStatus makes the orders.get stand-in answer 404.
const unknownStatus contracts.OrderStatus = "unknown"

// newHarness starts a server and creates the INVENTORY and ORDERS streams,
// which the inventory and orders functions would own, and answers
// orders.get as the orders function would.
func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{Client: fntest.NewClient(t, fntest.NewServer(t), streamConfig(contracts.StreamInventory), streamConfig(contracts.StreamOrders))}
	sub, err := h.NC.Subscribe(contracts.SubjectOrdersGet, func(m *nats.Msg) {
		h.asked.Add(1)
		var req contracts.GetOrderRequest
		_ = json.Unmarshal(m.Data, &req)
		status := contracts.StatusReserved
		if s, ok := h.orders.Load(req.OrderID); ok {
			status = s.(contracts.OrderStatus)
		}
		reply := nats.NewMsg(m.Reply)
		if status == unknownStatus {
			reply.Header.Set("Nats-Service-Error-Code", "404")
			reply.Header.Set("Nats-Service-Error", "order "+req.OrderID)
		} else {
			reply.Data, _ = json.Marshal(contracts.OrderView{OrderID: req.OrderID, Status: status})
		}
		_ = m.RespondMsg(reply)
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return h
}

// start runs one payments instance until the test ends.
func (h *harness) start(instance string, cfg Config) *function {
	h.T.Helper()
	f, svc := newFunction(cfg)
	fntest.RunConfig(h.T, h.Server.Config(instance), svc)
	return f
}

// reserved publishes inventory.reserved for an order of total cents.
func (h *harness) reserved(orderID, msgID string, total int64) {
	h.T.Helper()
	h.Publish(contracts.SubjectInventoryReserved, msgID, contracts.InventoryReservedEvent{
		OrderID:    orderID,
		Items:      []contracts.ReservedItem{{ProductID: "sku-1", Quantity: 1, UnitPriceCents: total}},
		TotalCents: total,
	})
}

// setGateway calls payments.gateway.set and returns the reply.
func (h *harness) setGateway(body string) contracts.GatewayReply {
	h.T.Helper()
	data, code := h.request(contracts.SubjectPaymentsGatewaySet, body)
	if code != "" {
		h.T.Fatalf("gateway.set %s: %s %s", body, code, data)
	}
	var r contracts.GatewayReply
	if err := json.Unmarshal(data, &r); err != nil {
		h.T.Fatal(err)
	}
	return r
}

// request calls an endpoint and returns the reply body and its error code.
func (h *harness) request(subject, body string) ([]byte, string) {
	h.T.Helper()
	return fntest.Request(h.T, h.NC, subject, []byte(body))
}

// event is a message stored in a stream.
type event struct {
	Header nats.Header
	Data   []byte
}

// events returns every message of a stream on a subject, oldest first.
func (h *harness) events(stream, subject string) []event {
	h.T.Helper()
	var out []event
	for _, m := range fntest.Messages(h.T, h.JS, stream, subject) {
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
	h.T.Helper()
	out := map[string]T{}
	for _, ev := range h.events(contracts.StreamPayments, subject) {
		var v T
		if err := json.Unmarshal(ev.Data, &v); err != nil {
			h.T.Fatal(err)
		}
		out[orderID(v)] = v
	}
	return out
}

// refunds reads the gateway ledger's refunds.
func (h *harness) refunds() map[string]int {
	h.T.Helper()
	r, err := Refunds(h.T.Context(), h.JS)
	if err != nil {
		h.T.Fatal(err)
	}
	return r
}

// charges reads the gateway's ledger.
func (h *harness) charges() map[string]int {
	h.T.Helper()
	c, err := Charges(h.T.Context(), h.JS)
	if err != nil {
		h.T.Fatal(err)
	}
	return c
}

// paymentState reads an order's payment record.
func (h *harness) paymentState(orderID string) state {
	h.T.Helper()
	kv, err := h.JS.KeyValue(context.Background(), contracts.BucketPayments)
	if err != nil {
		h.T.Fatal(err)
	}
	e, err := kv.Get(context.Background(), orderID)
	if err != nil {
		return ""
	}
	var r record
	if err := json.Unmarshal(e.Value(), &r); err != nil {
		h.T.Fatal(err)
	}
	return r.State
}
