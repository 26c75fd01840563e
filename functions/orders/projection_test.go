package orders_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/natsfn/natsfn/contracts"
)

// reserved is inventory's event for an order of quantity sku-1 at 250 cents.
func reserved(id string, quantity int) contracts.InventoryReservedEvent {
	return contracts.InventoryReservedEvent{
		OrderID:    id,
		Items:      []contracts.ReservedItem{{ProductID: "sku-1", Quantity: quantity, UnitPriceCents: 250}},
		TotalCents: int64(quantity) * 250,
	}
}

func completed(id string, amount int64) contracts.PaymentCompletedEvent {
	return contracts.PaymentCompletedEvent{OrderID: id, PaymentID: "pay-" + id[:8], AmountCents: amount}
}

func failed(id string) contracts.PaymentFailedEvent {
	return contracts.PaymentFailedEvent{OrderID: id, Reason: contracts.FailureDeclined, AmountCents: 250}
}

// The happy path, with every event delivered twice: the order is confirmed
// once, records each event once and announces orders.confirmed once.
func TestReservedThenPaidTwice(t *testing.T) {
	t.Parallel()
	h := start(t)
	id := h.create(order(item("sku-1", 2)), nil).OrderID

	h.publish(contracts.InventoryReserved, reserved(id, 2))
	v := h.waitStatus(id, contracts.StatusReserved)
	if v.TotalCents != 500 || v.Items[0].UnitPriceCents == nil || *v.Items[0].UnitPriceCents != 250 {
		t.Errorf("reserved view %+v", v)
	}
	h.handled("inventory-reserved", h.publish(contracts.InventoryReserved, reserved(id, 2)))

	h.publish(contracts.PaymentCompleted, completed(id, 500))
	h.handled("payment-completed", h.publish(contracts.PaymentCompleted, completed(id, 500)))
	v = h.waitStatus(id, contracts.StatusConfirmed)
	if v.PaymentID != "pay-"+id[:8] || v.TotalCents != 500 || v.Reason != "" {
		t.Errorf("confirmed view %+v", v)
	}
	want := "orders.created/pending inventory.reserved/reserved payments.completed/confirmed orders.confirmed/confirmed"
	if got := timeline(v); got != want {
		t.Errorf("timeline %s, want %s", got, want)
	}
	if n := h.count(contracts.StreamOrders, contracts.SubjectOrdersConfirmed); n != 1 {
		t.Fatalf("%d orders.confirmed events", n)
	}
	ev := h.last(contracts.StreamOrders, contracts.SubjectOrdersConfirmed)
	var confirmed contracts.OrderConfirmedEvent
	if err := json.Unmarshal(ev.Data, &confirmed); err != nil ||
		confirmed != (contracts.OrderConfirmedEvent{OrderID: id, PaymentID: "pay-" + id[:8], TotalCents: 500}) {
		t.Errorf("event %s", ev.Data)
	}
	if got := ev.Header.Get("Nats-Msg-Id"); got != "orders.confirmed:"+id {
		t.Errorf("Nats-Msg-Id %q", got)
	}
}

// The payment overtakes the reservation: the order ends confirmed all the
// same, and the late reservation still fills in the prices.
func TestPaidBeforeReserved(t *testing.T) {
	t.Parallel()
	h := start(t)
	id := h.create(order(item("sku-1", 3)), nil).OrderID
	h.publish(contracts.PaymentCompleted, completed(id, 750))
	v := h.waitStatus(id, contracts.StatusConfirmed)
	if v.TotalCents != 750 || v.Items[0].UnitPriceCents != nil {
		t.Errorf("confirmed before reserved %+v", v)
	}
	h.handled("inventory-reserved", h.publish(contracts.InventoryReserved, reserved(id, 3)))
	v = h.get(id)
	if v.Status != contracts.StatusConfirmed || v.TotalCents != 750 ||
		v.Items[0].UnitPriceCents == nil || *v.Items[0].UnitPriceCents != 250 {
		t.Errorf("view %+v", v)
	}
	want := "orders.created/pending payments.completed/confirmed orders.confirmed/confirmed inventory.reserved/confirmed"
	if got := timeline(v); got != want {
		t.Errorf("timeline %s, want %s", got, want)
	}
	if n := h.count(contracts.StreamOrders, contracts.SubjectOrdersConfirmed); n != 1 {
		t.Errorf("%d orders.confirmed events", n)
	}
}

// Many orders whose events all arrive at once, duplicated and in any
// order, all end confirmed with their totals, each announced once.
func TestProjectionConcurrentEvents(t *testing.T) {
	t.Parallel()
	h := start(t)
	const n = 20
	ids := make([]string, n)
	for i := range ids {
		ids[i] = h.create(order(item("sku-1", i+1)), nil).OrderID
	}
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() {
			for range 2 {
				for _, ev := range []struct {
					topic contracts.Event
					v     any
				}{
					{contracts.PaymentCompleted, completed(id, int64(i+1)*250)},
					{contracts.InventoryReserved, reserved(id, i+1)},
				} {
					data, _ := json.Marshal(ev.v)
					if _, err := h.js.Publish(t.Context(), ev.topic.Subject(), data); err != nil {
						t.Errorf("publish: %v", err)
					}
				}
			}
		})
	}
	wg.Wait()
	for i, id := range ids {
		eventually(t, fmt.Sprintf("order %d confirmed and priced", i), func() bool {
			v := h.get(id)
			return v.Status == contracts.StatusConfirmed && v.Items[0].UnitPriceCents != nil &&
				v.TotalCents == int64(i+1)*250 && len(v.Timeline) == 4
		})
	}
	if got := h.count(contracts.StreamOrders, contracts.SubjectOrdersConfirmed); got != n {
		t.Errorf("%d orders.confirmed events, want %d", got, n)
	}
}

func TestPaymentFailed(t *testing.T) {
	t.Parallel()
	h := start(t)
	id := h.create(order(item("sku-1", 1)), nil).OrderID
	h.publish(contracts.InventoryReserved, reserved(id, 1))
	h.waitStatus(id, contracts.StatusReserved)
	h.publish(contracts.PaymentFailed, failed(id))
	v := h.waitStatus(id, contracts.StatusCancelled)
	if v.Reason != contracts.ReasonPaymentDeclined || v.PaymentID != "" {
		t.Errorf("view %+v", v)
	}
	h.handled("payment-failed", h.publish(contracts.PaymentFailed, failed(id)))
	want := "orders.created/pending inventory.reserved/reserved payments.failed/cancelled orders.cancelled/cancelled"
	if got := timeline(h.get(id)); got != want {
		t.Errorf("timeline %s, want %s", got, want)
	}
	if n := h.count(contracts.StreamOrders, contracts.SubjectOrdersCancelled); n != 1 {
		t.Fatalf("%d orders.cancelled events", n)
	}
	var cancelled contracts.OrderCancelledEvent
	ev := h.last(contracts.StreamOrders, contracts.SubjectOrdersCancelled)
	if err := json.Unmarshal(ev.Data, &cancelled); err != nil || cancelled.Reason != contracts.ReasonPaymentDeclined {
		t.Errorf("event %s", ev.Data)
	}
}

// A rejection cancels with inventory's reason. Nothing was reserved or
// charged, so orders announces nothing.
func TestInventoryRejected(t *testing.T) {
	t.Parallel()
	h := start(t)
	for _, reason := range []contracts.Reason{contracts.ReasonOutOfStock, contracts.ReasonUnknownProduct} {
		id := h.create(order(item("sku-1", 1)), nil).OrderID
		h.publish(contracts.InventoryRejected, contracts.InventoryRejectedEvent{OrderID: id, Reason: reason, ProductID: "sku-1"})
		v := h.waitStatus(id, contracts.StatusCancelled)
		if v.Reason != reason {
			t.Errorf("reason %q, want %q", v.Reason, reason)
		}
		if got := timeline(v); got != "orders.created/pending inventory.rejected/cancelled" {
			t.Errorf("timeline %s", got)
		}
		// A late payment failure does not change the reason.
		h.handled("payment-failed", h.publish(contracts.PaymentFailed, failed(id)))
		if v := h.get(id); v.Reason != reason {
			t.Errorf("reason became %q", v.Reason)
		}
	}
	if n := h.count(contracts.StreamOrders, contracts.SubjectOrdersCancelled); n != 0 {
		t.Errorf("%d orders.cancelled events", n)
	}
}

// A payment that completes after the customer cancelled cannot confirm the
// order; the timeline keeps it, and says payments refunds it.
func TestPaidAfterCancel(t *testing.T) {
	t.Parallel()
	h := start(t)
	id := h.create(order(item("sku-1", 1)), nil).OrderID
	if _, code := h.cancel(id); code != 0 {
		t.Fatalf("cancel: code %d", code)
	}
	h.publish(contracts.PaymentCompleted, completed(id, 250))
	h.handled("payment-completed", h.publish(contracts.PaymentCompleted, completed(id, 250)))
	v := h.get(id)
	if v.Status != contracts.StatusCancelled || v.Reason != contracts.ReasonCancelledByCustomer || v.PaymentID != "" {
		t.Errorf("view %+v", v)
	}
	last := v.Timeline[len(v.Timeline)-1]
	if last.Event != contracts.SubjectPaymentsCompleted || !strings.Contains(last.Detail, "refund") || len(v.Timeline) != 4 {
		t.Errorf("timeline %+v", v.Timeline)
	}
	if n := h.count(contracts.StreamOrders, contracts.SubjectOrdersConfirmed); n != 0 {
		t.Errorf("%d orders.confirmed events", n)
	}
}

// The refund of a cancelled order's payment goes in its timeline once,
// however often it is delivered, and changes nothing else; a refund for an
// order that is not cancelled is ignored.
func TestRefundedAfterCancel(t *testing.T) {
	t.Parallel()
	h := start(t)
	id := h.create(order(item("sku-1", 1)), nil).OrderID
	if _, code := h.cancel(id); code != 0 {
		t.Fatalf("cancel: code %d", code)
	}
	h.handled("payment-completed", h.publish(contracts.PaymentCompleted, completed(id, 250)))
	refund := contracts.PaymentRefundedEvent{OrderID: id, PaymentID: "pay-" + id[:8], AmountCents: 250}
	h.publish(contracts.PaymentRefunded, refund)
	h.handled("payment-refunded", h.publish(contracts.PaymentRefunded, refund))
	v := h.get(id)
	if v.Status != contracts.StatusCancelled || v.Reason != contracts.ReasonCancelledByCustomer || v.PaymentID != "" {
		t.Errorf("view %+v", v)
	}
	var refunds []contracts.TimelineEntry
	for _, e := range v.Timeline {
		if e.Event == contracts.SubjectPaymentsRefunded {
			refunds = append(refunds, e)
		}
	}
	if len(refunds) != 1 || !strings.Contains(refunds[0].Detail, "refunded") || refunds[0].Status != contracts.StatusCancelled {
		t.Errorf("payments.refunded in the timeline %+v", v.Timeline)
	}

	open := h.create(order(item("sku-1", 1)), nil).OrderID
	h.handled("payment-refunded", h.publish(contracts.PaymentRefunded, contracts.PaymentRefundedEvent{OrderID: open, PaymentID: "pay-x", AmountCents: 1}))
	if v := h.get(open); v.Status != contracts.StatusPending || len(v.Timeline) != 1 {
		t.Errorf("a refund changed an open order: %+v", v)
	}
}
