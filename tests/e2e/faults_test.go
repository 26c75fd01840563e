package e2e

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/functions/orders"
	"github.com/natsfn/natsfn/functions/payments"
	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestStrayOrderCreatedTakesNothing: an orders.created that orders.create
// never published (here a hand-made one from an admin connection) leaves
// no charge and no stock taken: orders stores no order for it (and
// dead-letters it), payments does not charge an order orders does not
// know, and declines it, so inventory gives back what it reserved
// (issue 8.6). A real order placed alongside is confirmed as usual.
func TestStrayOrderCreatedTakesNothing(t *testing.T) {
	srv := fntest.NewServer(t)
	fntest.RunConfig(t, srv.Config(t.Name()),
		orders.New(orders.Config{}),
		inventory.New(inventory.Config{}),
		payments.New(payments.Config{UnknownOrderWait: 2 * time.Second}),
	)
	f := connectFlow(t, srv)
	f.setStock("sku-a", 10, 400)

	stray := contracts.OrderCreatedEvent{OrderID: "stray-1", CustomerID: "c-stray",
		Items: []contracts.OrderItem{item("sku-a", 3)}, CreatedAt: time.Now().UTC()}
	data, err := json.Marshal(stray)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.js.Publish(t.Context(), contracts.SubjectOrdersCreated, data); err != nil {
		t.Fatal(err)
	}
	id := f.place("c-1", item("sku-a", 1))
	if v := f.settle(id, 15*time.Second); v.Status != contracts.StatusConfirmed {
		t.Fatalf("real order %+v", v)
	}

	fntest.Eventually(t, 20*time.Second, "the stray's stock given back", func() bool {
		return f.stock("sku-a") == 9 && f.paymentState("stray-1") == "failed"
	})
	if c := f.charges(); c["stray-1"] != 0 || c[id] != 1 {
		t.Fatalf("ledger %v: the stray charged, or the real order not once", c)
	}
	if r := f.request(contracts.SubjectOrdersGet, []byte(`{"order_id":"stray-1"}`)); r.code != 404 {
		t.Fatalf("orders.get stray-1: %d %s", r.code, r.data)
	}
	if n := f.count("DEADLETTER", "deadletter.orders.order-created"); n != 1 {
		t.Fatalf("%d dead letters for the stray orders.created", n)
	}
}

// TestCreateWhileOrdersRefusesThenRetry: while ORDERS refuses messages,
// orders.create answers 503 and leaves no order behind (issue 8.1); the
// caller's retry with the same Idempotency-Key places one order, which the
// saga confirms, and nothing stays pending.
func TestCreateWhileOrdersRefusesThenRetry(t *testing.T) {
	f := startFlow(t)
	f.setStock("sku-a", 10, 400)
	first := f.place("c-1", item("sku-a", 1))
	f.settle(first, 15*time.Second)

	st, err := f.js.Stream(t.Context(), contracts.StreamOrders)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	was, full := info.Config, info.Config
	full.Discard, full.MaxMsgs = jetstream.DiscardNew, int64(info.State.Msgs)
	if _, err := f.js.UpdateStream(t.Context(), full); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"customer_id":"c-2","items":[{"product_id":"sku-a","quantity":2}]}`)
	soon := time.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
	if r := f.request(contracts.SubjectOrdersCreate, body, runtime.HeaderIdempotencyKey, "k-1", runtime.HeaderDeadline, soon); r.code != 503 {
		t.Fatalf("create while ORDERS refuses: %d %s", r.code, r.data)
	}
	if n := f.keys(contracts.BucketOrders); n != 1 {
		t.Fatalf("%d orders stored while ORDERS refused", n)
	}
	if _, err := f.js.UpdateStream(t.Context(), was); err != nil {
		t.Fatal(err)
	}
	r := f.request(contracts.SubjectOrdersCreate, body, runtime.HeaderIdempotencyKey, "k-1")
	var created contracts.CreateOrderReply
	if r.code != 0 || json.Unmarshal(r.data, &created) != nil {
		t.Fatalf("retry: %d %s", r.code, r.data)
	}
	if v := f.settle(created.OrderID, 15*time.Second); v.Status != contracts.StatusConfirmed {
		t.Fatalf("retried order %+v", v)
	}
	if f.stock("sku-a") != 7 || len(f.charges()) != 2 {
		t.Fatalf("stock %d, ledger %v", f.stock("sku-a"), f.charges())
	}
}
