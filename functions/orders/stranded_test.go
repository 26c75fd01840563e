package orders_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// refusePublishes makes ORDERS refuse every new message (it holds as many
// as it may, and discards new ones) until the returned func runs.
func (h *harness) refusePublishes() (restore func()) {
	h.t.Helper()
	return h.refuse(contracts.StreamOrders)
}

// refuse makes a stream refuse every new message until the returned func
// runs.
func (h *harness) refuse(stream string) (restore func()) {
	h.t.Helper()
	ctx := h.t.Context()
	st, err := h.js.Stream(ctx, stream)
	if err != nil {
		h.t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		h.t.Fatal(err)
	}
	was := info.Config
	full := was
	full.Discard, full.MaxMsgs = jetstream.DiscardNew, max(int64(info.State.Msgs), 1)
	if full.MaxMsgsPerSubject > 0 { // a bucket: refuse a new revision of a key too
		full.DiscardNewPerSubject = true
	}
	if info.State.Msgs == 0 {
		h.t.Fatalf("refuse needs a message in %s", stream)
	}
	if _, err := h.js.UpdateStream(ctx, full); err != nil {
		h.t.Fatalf("fill %s: %v", stream, err)
	}
	return func() {
		h.t.Helper()
		if _, err := h.js.UpdateStream(h.t.Context(), was); err != nil {
			h.t.Errorf("restore %s: %v", stream, err)
		}
	}
}

// soon is a request header with a deadline 1.5s away, so a create whose
// publish keeps failing answers quickly.
func soon(hdr nats.Header) nats.Header {
	if hdr == nil {
		hdr = nats.Header{}
	}
	hdr.Set(runtime.HeaderDeadline, time.Now().Add(1500*time.Millisecond).UTC().Format(time.RFC3339Nano))
	return hdr
}

// TestCreateRefusedLeavesNothing: when ORDERS refuses orders.created, the
// create answers 503 and stores no order (issue 8.1: the order used to be
// stored first and stay pending forever); a retry, with or without the
// same Idempotency-Key, places exactly one order once ORDERS takes
// messages again.
func TestCreateRefusedLeavesNothing(t *testing.T) {
	t.Parallel()
	h := start(t)
	first := h.create(order(item("sku-1", 1)), nil)

	restore := h.refusePublishes()
	for _, hdr := range []nats.Header{nil, withKey("k-refused")} {
		msg, code := h.requestJSON(contracts.SubjectOrdersCreate, order(item("sku-2", 1)), soon(hdr))
		if code != 503 {
			t.Fatalf("create while ORDERS refuses: code %d (%s), want 503", code, msg.Data)
		}
	}
	if n := h.keys(contracts.BucketOrders); n != 1 {
		t.Fatalf("%d orders stored while ORDERS refused orders.created, want only the first", n)
	}
	restore()

	a := h.create(order(item("sku-2", 1)), withKey("k-refused"))
	b := h.create(order(item("sku-2", 1)), withKey("k-refused"))
	if a.OrderID != b.OrderID || a.Status != contracts.StatusPending {
		t.Fatalf("retries with one key placed %+v and %+v", a, b)
	}
	c := h.create(order(item("sku-2", 1)), nil)
	for _, id := range []string{first.OrderID, a.OrderID, c.OrderID} {
		if v := h.get(id); v.Status != contracts.StatusPending || timeline(v) != "orders.created/pending" {
			t.Errorf("order %s: %s, timeline %s", id, v.Status, timeline(v))
		}
	}
	// Every stored order was announced, once.
	if n, m := h.keys(contracts.BucketOrders), h.count(contracts.StreamOrders, contracts.SubjectOrdersCreated); n != 3 || m != 3 {
		t.Fatalf("%d orders stored, %d orders.created published; want 3 and 3", n, m)
	}
}

// announce publishes an orders.created as the admin would, with the
// given headers.
func (h *harness) announce(ev contracts.OrderCreatedEvent, hdr nats.Header) *jetstream.PubAck {
	h.t.Helper()
	data, err := json.Marshal(ev)
	if err != nil {
		h.t.Fatal(err)
	}
	ack, err := h.js.PublishMsg(h.t.Context(), &nats.Msg{Subject: contracts.SubjectOrdersCreated, Data: data, Header: hdr})
	if err != nil {
		h.t.Fatalf("publish orders.created: %v", err)
	}
	return ack
}

// TestProjectionStoresAnnouncedOrder: an order whose orders.created was
// published but whose write was lost (the create stopped between the two)
// is stored by the projection of orders.created; one that orders.create
// did not publish is not, and is dead-lettered (issue 8.6).
func TestProjectionStoresAnnouncedOrder(t *testing.T) {
	t.Parallel()
	h := start(t)
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	lost := contracts.OrderCreatedEvent{OrderID: uuid.NewString(), CustomerID: "cust-1",
		Items: []contracts.OrderItem{item("sku-1", 2)}, CreatedAt: at}
	h.handled("order-created", h.announce(lost, nats.Header{
		nats.MsgIdHdr: []string{"orders.created:" + lost.OrderID},
		"ce-source":   []string{"orders"},
	}))
	v := h.get(lost.OrderID)
	if v.Status != contracts.StatusPending || timeline(v) != "orders.created/pending" || !v.CreatedAt.Equal(at) || len(v.Items) != 1 {
		t.Fatalf("stored from the event: %+v", v)
	}

	stray := contracts.OrderCreatedEvent{OrderID: uuid.NewString(), CustomerID: "cust-1",
		Items: []contracts.OrderItem{item("sku-1", 1)}, CreatedAt: at}
	h.handled("order-created", h.announce(stray, nil))
	if msg, code := h.requestJSON(contracts.SubjectOrdersGet, contracts.GetOrderRequest{OrderID: stray.OrderID}, nil); code != 404 {
		t.Fatalf("stray order: code %d (%s), want 404", code, msg.Data)
	}
	eventually(t, "the stray orders.created dead-lettered", func() bool {
		return h.count("DEADLETTER", "deadletter.orders.order-created") == 1
	})
}

// TestWritesRideOutARefusingBucket: while the orders bucket refuses
// writes (as during a KV leader election), a cancel keeps trying within
// its deadline instead of answering 503 after half a second (issue 8.3),
// and succeeds once the bucket takes writes again.
func TestWritesRideOutARefusingBucket(t *testing.T) {
	t.Parallel()
	h := start(t)
	id := h.create(order(item("sku-1", 1)), nil).OrderID
	restore := h.refuse("KV_" + contracts.BucketOrders)
	kv, err := h.js.KeyValue(t.Context(), contracts.BucketOrders)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(t.Context(), id, []byte("{}")); err == nil {
		t.Fatal("the bucket took a write while refusing")
	}
	restored := make(chan struct{})
	time.AfterFunc(1500*time.Millisecond, func() { restore(); close(restored) })
	t.Cleanup(func() { <-restored })
	start := time.Now()
	if r, code := h.cancel(id); code != 0 || r.Status != contracts.StatusCancelled {
		t.Fatalf("cancel while the bucket refused writes for 1.5s: code %d, %+v", code, r)
	}
	if d := time.Since(start); d < time.Second {
		t.Fatalf("cancel answered after %s, while the bucket refused writes", d)
	}
	if v := h.get(id); v.Status != contracts.StatusCancelled {
		t.Fatalf("order %s", v.Status)
	}
}

// TestCreateStoredByTheStreamWhenTheWriteFails: when the order's write
// fails after orders.created was published (the bucket refuses writes for
// the whole request), the caller still gets the order, and the
// projection of orders.created stores it once the bucket takes writes
// again: the stream is the source of truth.
func TestCreateStoredByTheStreamWhenTheWriteFails(t *testing.T) {
	t.Parallel()
	h := start(t)
	h.create(order(item("sku-1", 1)), nil)
	restore := h.refuse("KV_" + contracts.BucketOrders)
	msg, code := h.requestJSON(contracts.SubjectOrdersCreate, order(item("sku-2", 2)), soon(nil))
	if code != 0 {
		restore()
		t.Fatalf("create whose write failed after the publish: code %d (%s), want the order", code, msg.Data)
	}
	var reply contracts.CreateOrderReply
	if err := json.Unmarshal(msg.Data, &reply); err != nil {
		t.Fatal(err)
	}
	if n := h.keys(contracts.BucketOrders); n != 1 {
		t.Fatalf("%d orders stored while the bucket refused writes", n)
	}
	restore()
	eventually(t, "the projection to store "+reply.OrderID, func() bool {
		_, code := h.requestJSON(contracts.SubjectOrdersGet, contracts.GetOrderRequest{OrderID: reply.OrderID}, nil)
		return code == 0
	})
	v := h.get(reply.OrderID)
	if timeline(v) != "orders.created/pending" || len(v.Items) != 1 || v.Items[0].Quantity != 2 {
		t.Fatalf("order stored from the stream: %+v", v)
	}
}

// TestEventOvertakingItsOrderWaits: an event about an order not stored yet
// (it overtook the order's write, or was read on a replica that lags) is
// not "not found", which would dead-letter it at once (issue 8.4): the
// handler reads the order again, the message comes back, and once the
// order is stored the event applies. A lagging replica's "not found" is
// confirmed with the stream leader by the runtime's Modify
// (runtime/internal/kv's stale tests).
func TestEventOvertakingItsOrderWaits(t *testing.T) {
	t.Parallel()
	h := start(t)
	ev := contracts.OrderCreatedEvent{OrderID: uuid.NewString(), CustomerID: "cust-1",
		Items: []contracts.OrderItem{item("sku-1", 2)}, CreatedAt: time.Now()}
	h.publish(contracts.PaymentFailed, failed(ev.OrderID))
	time.Sleep(time.Second) // longer than a first read, shorter than the handler's wait
	h.announce(ev, nats.Header{
		nats.MsgIdHdr: []string{"orders.created:" + ev.OrderID},
		"ce-source":   []string{"orders"},
	})
	eventually(t, "the projection to store "+ev.OrderID, func() bool {
		_, code := h.requestJSON(contracts.SubjectOrdersGet, contracts.GetOrderRequest{OrderID: ev.OrderID}, nil)
		return code == 0
	})
	v := h.waitStatus(ev.OrderID, contracts.StatusCancelled)
	if v.Reason != contracts.ReasonPaymentDeclined {
		t.Fatalf("order %+v", v)
	}
	if n := h.count("DEADLETTER", "deadletter.orders.payment-failed"); n != 0 {
		t.Fatalf("%d dead letters for an event that overtook its order", n)
	}
}
