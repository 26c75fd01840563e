package orders_test

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/functions/orders"
	"github.com/natsfn/natsfn/runtime"
)

func TestCreatePending(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	h.createStock()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	h.run(orders.Config{Now: func() time.Time { return at }})
	hdr := nats.Header{runtime.HeaderCorrelationID: []string{"corr-create"}}
	msg, code := h.requestJSON(contracts.SubjectOrdersCreate, order(item("sku-1", 2), item("sku-2", 1)), hdr)
	if code != 0 {
		t.Fatalf("code %d: %s", code, msg.Data)
	}
	var reply contracts.CreateOrderReply
	if err := json.Unmarshal(msg.Data, &reply); err != nil {
		t.Fatal(err)
	}
	if _, err := uuid.Parse(reply.OrderID); err != nil || reply.Status != contracts.StatusPending {
		t.Fatalf("reply %+v", reply)
	}
	if got := msg.Header.Get(runtime.HeaderCorrelationID); got != "corr-create" {
		t.Errorf("reply correlation id %q", got)
	}

	v := h.get(reply.OrderID)
	if v.Status != contracts.StatusPending || v.CustomerID != "cust-1" || len(v.Items) != 2 ||
		v.TotalCents != 0 || v.Reason != "" || v.PaymentID != "" || v.Items[0].UnitPriceCents != nil {
		t.Errorf("view %+v", v)
	}
	if !v.CreatedAt.Equal(at) || !v.UpdatedAt.Equal(at) || !v.Timeline[0].At.Equal(at) {
		t.Errorf("times %s %s %s, want the configured clock's %s", v.CreatedAt, v.UpdatedAt, v.Timeline[0].At, at)
	}
	if got := timeline(v); got != "orders.created/pending" {
		t.Errorf("timeline %s", got)
	}

	// orders.created: once, with the deterministic id and the flow's correlation id.
	if n := h.count(contracts.StreamOrders, contracts.SubjectOrdersCreated); n != 1 {
		t.Fatalf("%d orders.created events", n)
	}
	ev := h.last(contracts.StreamOrders, contracts.SubjectOrdersCreated)
	if got := ev.Header.Get(nats.MsgIdHdr); got != "orders.created:"+reply.OrderID {
		t.Errorf("Nats-Msg-Id %q", got)
	}
	if got := ev.Header.Get(runtime.HeaderCorrelationID); got != "corr-create" {
		t.Errorf("event correlation id %q", got)
	}
	var created contracts.OrderCreatedEvent
	if err := json.Unmarshal(ev.Data, &created); err != nil {
		t.Fatal(err)
	}
	if created.OrderID != reply.OrderID || len(created.Items) != 2 || !created.CreatedAt.Equal(v.CreatedAt) {
		t.Errorf("event %+v", created)
	}
}

func TestCreateIdempotentReplay(t *testing.T) {
	t.Parallel()
	h := start(t)
	first := h.create(order(item("sku-1", 1)), withKey("key-1"))
	again := h.create(order(item("sku-1", 1)), withKey("key-1"))
	if again != first {
		t.Fatalf("replay answered %+v, first %+v", again, first)
	}
	if n := h.keys(contracts.BucketOrders); n != 1 {
		t.Errorf("%d orders stored", n)
	}
	if n := h.count(contracts.StreamOrders, contracts.SubjectOrdersCreated); n != 1 {
		t.Errorf("%d orders.created events", n)
	}
	// Another key is another order.
	if other := h.create(order(item("sku-1", 1)), withKey("key-2")); other.OrderID == first.OrderID {
		t.Errorf("key-2 got key-1's order")
	}
}

// A replay answers the order's current status, not pending.
func TestCreateReplayAfterCancel(t *testing.T) {
	t.Parallel()
	h := start(t)
	first := h.create(order(item("sku-1", 1)), withKey("key-1"))
	if _, code := h.cancel(first.OrderID); code != 0 {
		t.Fatalf("cancel: code %d", code)
	}
	again := h.create(order(item("sku-1", 1)), withKey("key-1"))
	if again.OrderID != first.OrderID || again.Status != contracts.StatusCancelled {
		t.Fatalf("replay %+v", again)
	}
}

func TestCreateIdempotencyConflict(t *testing.T) {
	t.Parallel()
	h := start(t)
	first := h.create(order(item("sku-1", 1)), withKey("key-1"))
	msg, code := h.requestJSON(contracts.SubjectOrdersCreate, order(item("sku-1", 2)), withKey("key-1"))
	if code != 409 {
		t.Fatalf("code %d: %s", code, msg.Data)
	}
	if n := h.keys(contracts.BucketOrders); n != 1 {
		t.Errorf("%d orders stored", n)
	}
	if v := h.get(first.OrderID); v.Items[0].Quantity != 1 {
		t.Errorf("first order changed: %+v", v)
	}
}

// Racing requests with one key make one order, and all of them name it.
func TestCreateConcurrentSameKey(t *testing.T) {
	t.Parallel()
	h := start(t)
	const n = 16
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			body, _ := json.Marshal(order(item("sku-2", 3)))
			msg, code, err := h.try(contracts.SubjectOrdersCreate, body, withKey("race"))
			var reply contracts.CreateOrderReply
			if err != nil || code != 0 || json.Unmarshal(msg.Data, &reply) != nil {
				t.Errorf("request %d: code %d, error %v", i, code, err)
				return
			}
			ids[i] = reply.OrderID
		})
	}
	wg.Wait()
	for i := range ids {
		if ids[i] != ids[0] {
			t.Fatalf("ids differ: %v", ids)
		}
	}
	if got := h.keys(contracts.BucketOrders); got != 1 {
		t.Errorf("%d orders stored", got)
	}
	if got := h.count(contracts.StreamOrders, contracts.SubjectOrdersCreated); got != 1 {
		t.Errorf("%d orders.created events", got)
	}
}

// An unknown product is a 404 that leaves nothing behind: no claim, no
// order, no event, so the same key works once the request is fixed.
func TestCreateUnknownProduct(t *testing.T) {
	t.Parallel()
	h := start(t)
	msg, code := h.requestJSON(contracts.SubjectOrdersCreate, order(item("sku-1", 1), item("sku-x", 1)), withKey("key-1"))
	if code != 404 || !strings.Contains(string(msg.Data), "unknown product sku-x") {
		t.Fatalf("code %d: %s", code, msg.Data)
	}
	if n := h.keys(contracts.BucketOrders); n != 0 {
		t.Errorf("%d orders stored", n)
	}
	if n := h.keys(contracts.BucketIdempotency); n != 0 {
		t.Errorf("%d idempotency claims stored", n)
	}
	if n := h.count(contracts.StreamOrders, contracts.SubjectOrdersCreated); n != 0 {
		t.Errorf("%d orders.created events", n)
	}
	h.create(order(item("sku-1", 1)), withKey("key-1"))
}

func TestCreateInvalid(t *testing.T) {
	t.Parallel()
	h := start(t)
	cases := []struct {
		name, body string
		code       int
	}{
		{"malformed JSON", `{"customer_id":"c","items":[`, 400},
		{"empty body", ``, 400},
		{"empty items", `{"customer_id":"c","items":[]}`, 400},
		{"quantity 0", `{"customer_id":"c","items":[{"product_id":"sku-1","quantity":0}]}`, 400},
		{"no customer", `{"items":[{"product_id":"sku-1","quantity":1}]}`, 400},
		{"unknown field", `{"customer_id":"c","items":[{"product_id":"sku-1","quantity":1}],"x":1}`, 400},
		{"bad product id", `{"customer_id":"c","items":[{"product_id":"sku 1","quantity":1}]}`, 400},
		{"product id not a key", `{"customer_id":"c","items":[{"product_id":"sku..1","quantity":1}]}`, 400},
		{"2 MB", `{"customer_id":"` + strings.Repeat("c", 2<<20) + `","items":[]}`, 413},
		{"quantity 1.5", `{"customer_id":"c","items":[{"product_id":"sku-1","quantity":1.5}]}`, 400},
		{"not UTF-8", "{\"customer_id\":\"c\xff\",\"items\":[{\"product_id\":\"sku-1\",\"quantity\":1}]}", 400},
	}
	for _, c := range cases {
		msg, code := h.request(contracts.SubjectOrdersCreate, []byte(c.body), withKey("key-"+c.name))
		var body runtime.ErrorBody
		if code != c.code || json.Unmarshal(msg.Data, &body) != nil || body.Code != c.code {
			t.Errorf("%s: code %d, want %d: %.200s", c.name, code, c.code, msg.Data)
		}
	}
	if n := h.keys(contracts.BucketOrders); n != 0 {
		t.Errorf("%d orders stored", n)
	}
	if n := h.keys(contracts.BucketIdempotency); n != 0 {
		t.Errorf("%d idempotency claims stored", n)
	}
}

// An integral quantity written 1.0 or 2e0 is an integer to the schema, and
// to the decoder too: the order is placed with those quantities.
func TestCreateIntegralFloats(t *testing.T) {
	t.Parallel()
	h := start(t)
	msg, code := h.request(contracts.SubjectOrdersCreate,
		[]byte(`{"customer_id":"c","items":[{"product_id":"sku-1","quantity":1.0},{"product_id":"sku-2","quantity":2e0}]}`), nil)
	if code != 0 {
		t.Fatalf("code %d: %s", code, msg.Data)
	}
	var reply contracts.CreateOrderReply
	if err := json.Unmarshal(msg.Data, &reply); err != nil {
		t.Fatal(err)
	}
	v := h.get(reply.OrderID)
	if len(v.Items) != 2 || v.Items[0].Quantity != 1 || v.Items[1].Quantity != 2 {
		t.Fatalf("items %+v", v.Items)
	}
}
