package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// harness is a server with the streams inventory consumes, and a client.
type harness struct {
	t   *testing.T
	srv *fntest.Server
	js  jetstream.JetStream
	nc  *nats.Conn
}

// newHarness starts a server and creates the ORDERS and PAYMENTS streams,
// which the orders and payments functions would own.
func newHarness(t *testing.T) *harness {
	t.Helper()
	srv := fntest.NewServer(t)
	h := &harness{t: t, srv: srv, js: srv.JetStream(t), nc: srv.Connect(t)}
	for _, name := range []string{contracts.StreamOrders, contracts.StreamPayments} {
		if _, err := h.js.CreateStream(context.Background(), streamConfig(name)); err != nil {
			t.Fatalf("stream %s: %v", name, err)
		}
	}
	return h
}

// start runs one inventory instance until the test ends.
func (h *harness) start(instance string, cfg Config) *fntest.Instance {
	h.t.Helper()
	return fntest.RunConfig(h.t, h.srv.Config(instance), New(cfg))
}

// publish publishes an event with the given Msg-Id.
func (h *harness) publish(subject, msgID string, v any) {
	h.t.Helper()
	fntest.Publish(h.t, h.js, subject, msgID, v)
}

func (h *harness) created(orderID, msgID string, items ...contracts.OrderItem) {
	h.t.Helper()
	h.publish(contracts.SubjectOrdersCreated, msgID, contracts.OrderCreatedEvent{
		OrderID: orderID, CustomerID: "cust-1", Items: items, CreatedAt: time.Now().UTC(),
	})
}

func item(product string, quantity int) contracts.OrderItem {
	return contracts.OrderItem{ProductID: product, Quantity: quantity}
}

// request calls an endpoint with a value (a string is sent as is) and
// returns the reply body and its error code ("" on success).
func (h *harness) request(subject string, body any) ([]byte, string) {
	h.t.Helper()
	data, _ := json.Marshal(body)
	if s, ok := body.(string); ok {
		data = []byte(s)
	}
	return fntest.Request(h.t, h.nc, subject, data)
}

// quantity reads a product's quantity through inventory.stock.get.
func (h *harness) quantity(product string) int {
	h.t.Helper()
	body, code := h.request(contracts.SubjectInventoryStockGet, contracts.GetStockRequest{ProductID: product})
	if code != "" {
		h.t.Fatalf("stock.get %s: %s %s", product, code, body)
	}
	var r contracts.StockReply
	if err := json.Unmarshal(body, &r); err != nil {
		h.t.Fatal(err)
	}
	return r.Quantity
}

// event is a message stored in a stream.
type event struct {
	Subject string
	Header  nats.Header
	Data    []byte
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

// settled waits until a durable consumer has acknowledged every message
// published so far on its subject.
func (h *harness) settled(stream, consumer string) {
	h.t.Helper()
	fntest.Settled(h.t, h.js, stream, consumer)
}

// reservationState reads an order's reservation record directly.
func (h *harness) reservation(orderID string) *reservation {
	h.t.Helper()
	kv, err := h.js.KeyValue(context.Background(), contracts.BucketReservations)
	if err != nil {
		return nil
	}
	e, err := kv.Get(context.Background(), orderID)
	if err != nil {
		return nil
	}
	r, err := decodeReservation(orderID, e.Value())
	if err != nil {
		h.t.Fatal(err)
	}
	return r
}

func decode[T any](t *testing.T, ev event) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(ev.Data, &v); err != nil {
		t.Fatalf("%s: %v", ev.Subject, err)
	}
	return v
}

func catalog(entries ...contracts.SetStockRequest) Config { return Config{Seed: entries} }

func product(id string, quantity int, price int64) contracts.SetStockRequest {
	return contracts.SetStockRequest{ProductID: id, Quantity: quantity, PriceCents: price}
}

func orderID(i int) string { return fmt.Sprintf("order-%03d", i) }

// stockOps lists the op markers of a product's retained revisions.
func (h *harness) stockOps(product string) []string {
	h.t.Helper()
	kv, err := h.js.KeyValue(context.Background(), contracts.BucketStock)
	if err != nil {
		h.t.Fatal(err)
	}
	hist, err := kv.History(context.Background(), product)
	if err != nil {
		h.t.Fatal(err)
	}
	var ops []string
	for _, e := range hist {
		rec, err := decodeStock(product, e.Value())
		if err != nil {
			h.t.Fatal(err)
		}
		ops = append(ops, rec.Op)
	}
	return ops
}

// syncBuffer captures logs written concurrently.
type syncBuffer = fntest.Buffer
