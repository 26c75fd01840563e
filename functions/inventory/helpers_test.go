package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// harness is a server with the streams inventory consumes, and a client.
type harness struct{ *fntest.Client }

// newHarness starts a server and creates the ORDERS and PAYMENTS streams, which the orders and payments functions would own.
func newHarness(t *testing.T) *harness {
	t.Helper()
	return &harness{fntest.NewClient(t, fntest.NewServer(t), streamConfig(contracts.StreamOrders), streamConfig(contracts.StreamPayments))}
}

// start runs one inventory instance until the test ends.
func (h *harness) start(instance string, cfg Config) *runtime.Instance {
	h.T.Helper()
	return fntest.RunConfig(h.T, h.Server.Config(instance), New(cfg))
}

func (h *harness) created(orderID, msgID string, items ...contracts.OrderItem) {
	h.T.Helper()
	h.Publish(contracts.SubjectOrdersCreated, msgID, contracts.OrderCreatedEvent{
		OrderID: orderID, CustomerID: "cust-1", Items: items, CreatedAt: time.Now().UTC(),
	})
}

func item(product string, quantity int) contracts.OrderItem {
	return contracts.OrderItem{ProductID: product, Quantity: quantity}
}

// request calls an endpoint with a value (a string is sent as is) and
// returns the reply body and its error code ("" on success).
func (h *harness) request(subject string, body any) ([]byte, string) {
	h.T.Helper()
	data, _ := json.Marshal(body)
	if s, ok := body.(string); ok {
		data = []byte(s)
	}
	return fntest.Request(h.T, h.NC, subject, data)
}

// quantity reads a product's quantity through inventory.stock.get.
func (h *harness) quantity(product string) int {
	h.T.Helper()
	body, code := h.request(contracts.SubjectInventoryStockGet, contracts.GetStockRequest{ProductID: product})
	if code != "" {
		h.T.Fatalf("stock.get %s: %s %s", product, code, body)
	}
	var r contracts.StockReply
	if err := json.Unmarshal(body, &r); err != nil {
		h.T.Fatal(err)
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
	h.T.Helper()
	var out []event
	for _, m := range fntest.Messages(h.T, h.JS, stream, subject) {
		out = append(out, event{Header: m.Header, Data: m.Data})
	}
	return out
}

// reservation reads an order's reservation record directly.
func (h *harness) reservation(orderID string) *reservation {
	h.T.Helper()
	kv, err := h.JS.KeyValue(context.Background(), contracts.BucketStock)
	if err != nil {
		return nil
	}
	e, err := kv.Get(context.Background(), reservationKey(orderID))
	if err != nil {
		return nil
	}
	var v entry
	if err := json.Unmarshal(e.Value(), &v); err != nil || v.Reservation == nil {
		h.T.Fatalf("reservation of %s: %s (%v)", orderID, e.Value(), err)
	}
	return v.Reservation
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

// syncBuffer captures logs written concurrently.
type syncBuffer = fntest.Buffer

// settledWithin waits, up to d, until a consumer has nothing pending and
// nothing unacknowledged. fntest.Settled waits 15 s, less than a burst of
// contended transactions takes on a busy machine (every commit of a
// single-replica file bucket syncs a staging store to disk).
func (h *harness) settledWithin(d time.Duration, stream, consumer string) {
	h.T.Helper()
	fntest.Eventually(h.T, d, consumer+" settled", func() bool {
		c, err := h.JS.Consumer(context.Background(), stream, consumer)
		if err != nil {
			return false
		}
		info, err := c.Info(context.Background())
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
}
