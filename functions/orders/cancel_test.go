package orders_test

import (
	"encoding/json"
	"testing"

	"github.com/google/uuid"

	"github.com/natsfn/natsfn/contracts"
)

// Cancelling a pending order cancels it and announces it once; cancelling
// it again answers the same and announces nothing more.
func TestCancelPendingTwice(t *testing.T) {
	t.Parallel()
	h := start(t)
	id := h.create(order(item("sku-1", 1)), nil).OrderID
	want := contracts.CancelOrderReply{OrderID: id, Status: contracts.StatusCancelled, Reason: contracts.ReasonCancelledByCustomer}
	for i := range 2 {
		reply, code := h.cancel(id)
		if code != 0 || reply != want {
			t.Fatalf("cancel #%d: code %d, reply %+v", i+1, code, reply)
		}
	}
	v := h.get(id)
	if v.Status != contracts.StatusCancelled || v.Reason != contracts.ReasonCancelledByCustomer {
		t.Errorf("view %+v", v)
	}
	if got, want := timeline(v), "orders.created/pending orders.cancel/cancelled orders.cancelled/cancelled"; got != want {
		t.Errorf("timeline %s, want %s", got, want)
	}
	if n := h.count(contracts.StreamOrders, contracts.SubjectOrdersCancelled); n != 1 {
		t.Fatalf("%d orders.cancelled events", n)
	}
	ev := h.last(contracts.StreamOrders, contracts.SubjectOrdersCancelled)
	var cancelled contracts.OrderCancelledEvent
	if err := json.Unmarshal(ev.Data, &cancelled); err != nil ||
		cancelled != (contracts.OrderCancelledEvent{OrderID: id, Reason: contracts.ReasonCancelledByCustomer}) {
		t.Errorf("event %s", ev.Data)
	}
	if got := ev.Header.Get("Nats-Msg-Id"); got != "orders.cancelled:"+id {
		t.Errorf("Nats-Msg-Id %q", got)
	}
}

func TestCancelReserved(t *testing.T) {
	t.Parallel()
	h := start(t)
	id := h.create(order(item("sku-1", 2)), nil).OrderID
	h.publish(contracts.InventoryReserved, reserved(id, 2))
	h.waitStatus(id, contracts.StatusReserved)
	if reply, code := h.cancel(id); code != 0 || reply.Reason != contracts.ReasonCancelledByCustomer {
		t.Fatalf("code %d, reply %+v", code, reply)
	}
	if v := h.get(id); v.TotalCents != 500 {
		t.Errorf("cancelled order lost its total: %+v", v)
	}
	if n := h.count(contracts.StreamOrders, contracts.SubjectOrdersCancelled); n != 1 {
		t.Errorf("%d orders.cancelled events", n)
	}
}

func TestCancelConfirmedConflicts(t *testing.T) {
	t.Parallel()
	h := start(t)
	id := h.create(order(item("sku-1", 1)), nil).OrderID
	h.publish(contracts.InventoryReserved, reserved(id, 1))
	h.publish(contracts.PaymentCompleted, completed(id, 250))
	h.waitStatus(id, contracts.StatusConfirmed)
	if _, code := h.cancel(id); code != 409 {
		t.Fatalf("code %d, want 409", code)
	}
	if v := h.get(id); v.Status != contracts.StatusConfirmed {
		t.Errorf("view %+v", v)
	}
	if n := h.count(contracts.StreamOrders, contracts.SubjectOrdersCancelled); n != 0 {
		t.Errorf("%d orders.cancelled events", n)
	}
}

// An order cancelled by the saga keeps its reason when the customer
// cancels it too.
func TestCancelAfterDecline(t *testing.T) {
	t.Parallel()
	h := start(t)
	id := h.create(order(item("sku-1", 1)), nil).OrderID
	h.publish(contracts.PaymentFailed, failed(id))
	h.waitStatus(id, contracts.StatusCancelled)
	reply, code := h.cancel(id)
	if code != 0 || reply.Reason != contracts.ReasonPaymentDeclined {
		t.Fatalf("code %d, reply %+v", code, reply)
	}
	if n := h.count(contracts.StreamOrders, contracts.SubjectOrdersCancelled); n != 1 {
		t.Errorf("%d orders.cancelled events", n)
	}
}

func TestCancelErrors(t *testing.T) {
	t.Parallel()
	h := start(t)
	cases := []struct {
		name, body string
		code       int
	}{
		{"unknown order", `{"order_id":"` + uuid.NewString() + `"}`, 404},
		{"no order id", `{}`, 400},
		{"malformed JSON", `{`, 400},
		{"order id not a key", `{"order_id":"x."}`, 400},
	}
	for _, c := range cases {
		msg, code := h.request(contracts.SubjectOrdersCancel, []byte(c.body), nil)
		if code != c.code {
			t.Errorf("%s: code %d, want %d: %s", c.name, code, c.code, msg.Data)
		}
	}
}
