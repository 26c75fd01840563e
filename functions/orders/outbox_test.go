package orders_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/natsfn/natsfn/contracts"
)

// crashAfterUpdate rewrites an order as a step that changed it and then
// stopped before its publish would have left it.
func (h *harness) crashAfterUpdate(id string, change func(v *contracts.OrderView)) {
	h.t.Helper()
	kv, err := h.js.KeyValue(h.t.Context(), contracts.BucketOrders)
	if err != nil {
		h.t.Fatal(err)
	}
	entry, err := kv.Get(h.t.Context(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	var v contracts.OrderView
	if err := json.Unmarshal(entry.Value(), &v); err != nil {
		h.t.Fatal(err)
	}
	change(&v)
	data, _ := json.Marshal(v)
	if _, err := kv.Update(h.t.Context(), id, data, entry.Revision()); err != nil {
		h.t.Fatal(err)
	}
}

// A confirmation whose publish never happened is announced by the
// redelivery of its payment, once.
func TestAnnounceResumesOnRedelivery(t *testing.T) {
	t.Parallel()
	h := start(t)
	id := h.create(order(item("sku-1", 1)), nil).OrderID
	h.crashAfterUpdate(id, func(v *contracts.OrderView) {
		v.Status, v.PaymentID, v.TotalCents = contracts.StatusConfirmed, "pay-1", 250
		v.Timeline = append(v.Timeline, contracts.TimelineEntry{
			Event: contracts.SubjectPaymentsCompleted, Status: v.Status, At: time.Now().UTC(),
		})
	})
	if n := h.count(contracts.StreamOrders, contracts.SubjectOrdersConfirmed); n != 0 {
		t.Fatalf("%d orders.confirmed events before the redelivery", n)
	}
	h.handled("payment-completed", h.publish(contracts.PaymentCompleted, completed(id, 250)))
	h.handled("payment-completed", h.publish(contracts.PaymentCompleted, completed(id, 250)))
	if n := h.count(contracts.StreamOrders, contracts.SubjectOrdersConfirmed); n != 1 {
		t.Fatalf("%d orders.confirmed events", n)
	}
	v := h.get(id)
	if got := timeline(v); got != "orders.created/pending payments.completed/confirmed orders.confirmed/confirmed" {
		t.Errorf("timeline %s", got)
	}
	if v.PaymentID != "pay-1" {
		t.Errorf("payment id %q: the redelivery must not overwrite the first payment", v.PaymentID)
	}
}

// A customer cancellation whose publish never happened is announced when
// the customer asks again.
func TestAnnounceResumesOnCancelRetry(t *testing.T) {
	t.Parallel()
	h := start(t)
	id := h.create(order(item("sku-1", 1)), nil).OrderID
	h.crashAfterUpdate(id, func(v *contracts.OrderView) {
		v.Status, v.Reason = contracts.StatusCancelled, contracts.ReasonCancelledByCustomer
		v.Timeline = append(v.Timeline, contracts.TimelineEntry{
			Event: contracts.SubjectOrdersCancel, Status: v.Status, At: time.Now().UTC(),
		})
	})
	if reply, code := h.cancel(id); code != 0 || reply.Reason != contracts.ReasonCancelledByCustomer {
		t.Fatalf("code %d, reply %+v", code, reply)
	}
	if n := h.count(contracts.StreamOrders, contracts.SubjectOrdersCancelled); n != 1 {
		t.Fatalf("%d orders.cancelled events", n)
	}
	if got := timeline(h.get(id)); got != "orders.created/pending orders.cancel/cancelled orders.cancelled/cancelled" {
		t.Errorf("timeline %s", got)
	}
}
