package inventory

import (
	"testing"
	"time"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime/fntest"
)

func TestReleaseOnPaymentFailedOnce(t *testing.T) {
	h := newHarness(t)
	h.start("inv-1", catalog(product("sku-1", 10, 100), product("sku-2", 10, 200)))
	h.created("o-1", "m-1", item("sku-1", 3), item("sku-2", 2))
	fntest.Eventually(t, 10*time.Second, "inventory.reserved", func() bool {
		return len(h.events(contracts.StreamInventory, contracts.SubjectInventoryReserved)) == 1
	})
	if h.quantity("sku-1") != 7 || h.quantity("sku-2") != 8 {
		t.Fatal("not reserved")
	}
	failed := contracts.PaymentFailedEvent{OrderID: "o-1", Reason: contracts.FailureDeclined, AmountCents: 700}
	h.Publish(contracts.SubjectPaymentsFailed, "f-1", failed)
	h.Publish(contracts.SubjectPaymentsFailed, "f-2", failed)
	h.Settled(contracts.StreamPayments, "inventory-release-on-payment-failed")
	// A cancel after the release changes nothing either. (Published before
	// the release, it would race it on its own consumer and might release
	// the stock itself, with cause orders.cancelled.)
	h.Publish(contracts.SubjectOrdersCancelled, "c-1", contracts.OrderCancelledEvent{OrderID: "o-1", Reason: contracts.ReasonPaymentDeclined})
	h.Settled(contracts.StreamOrders, "inventory-release-on-cancel")

	if q := h.quantity("sku-1"); q != 10 {
		t.Errorf("sku-1 stock %d, want 10", q)
	}
	if q := h.quantity("sku-2"); q != 10 {
		t.Errorf("sku-2 stock %d, want 10", q)
	}
	released := h.events(contracts.StreamInventory, contracts.SubjectInventoryReleased)
	if len(released) != 1 {
		t.Fatalf("%d inventory.released, want 1", len(released))
	}
	got := decode[contracts.InventoryReleasedEvent](t, released[0])
	if got.OrderID != "o-1" || got.Cause != contracts.CausePaymentFailed || len(got.Items) != 2 ||
		got.Items[0] != item("sku-1", 3) || got.Items[1] != item("sku-2", 2) {
		t.Fatalf("released %+v", got)
	}
}

func TestReleaseOnCancelAfterReservation(t *testing.T) {
	h := newHarness(t)
	h.start("inv-1", catalog(product("sku-1", 10, 100)))
	h.created("o-1", "m-1", item("sku-1", 4))
	fntest.Eventually(t, 10*time.Second, "inventory.reserved", func() bool {
		return len(h.events(contracts.StreamInventory, contracts.SubjectInventoryReserved)) == 1
	})
	h.Publish(contracts.SubjectOrdersCancelled, "c-1", contracts.OrderCancelledEvent{OrderID: "o-1", Reason: contracts.ReasonCancelledByCustomer})
	fntest.Eventually(t, 10*time.Second, "inventory.released", func() bool {
		return len(h.events(contracts.StreamInventory, contracts.SubjectInventoryReleased)) == 1
	})
	if q := h.quantity("sku-1"); q != 10 {
		t.Fatalf("stock %d, want 10", q)
	}
	got := decode[contracts.InventoryReleasedEvent](t, h.events(contracts.StreamInventory, contracts.SubjectInventoryReleased)[0])
	if got.Cause != contracts.CauseOrderCancelled {
		t.Fatalf("cause %q", got.Cause)
	}
}

// TestCancelBeforeReservationLeavesTombstone: the late orders.created
// reserves nothing and announces nothing.
func TestCancelBeforeReservationLeavesTombstone(t *testing.T) {
	h := newHarness(t)
	h.start("inv-1", catalog(product("sku-1", 10, 100)))
	h.Publish(contracts.SubjectOrdersCancelled, "c-1", contracts.OrderCancelledEvent{OrderID: "o-1", Reason: contracts.ReasonCancelledByCustomer})
	h.Settled(contracts.StreamOrders, "inventory-release-on-cancel")
	if r := h.reservation("o-1"); r == nil || r.State != stateReleased || len(r.Lines) != 0 {
		t.Fatalf("tombstone %+v", r)
	}
	h.created("o-1", "m-1", item("sku-1", 4))
	h.Settled(contracts.StreamOrders, "inventory-reserve")
	if q := h.quantity("sku-1"); q != 10 {
		t.Fatalf("stock %d, want 10", q)
	}
	for _, subj := range []string{contracts.SubjectInventoryReserved, contracts.SubjectInventoryRejected, contracts.SubjectInventoryReleased} {
		if n := len(h.events(contracts.StreamInventory, subj)); n != 0 {
			t.Errorf("%d %s", n, subj)
		}
	}
	// payments.failed for an order inventory never saw leaves nothing.
	h.Publish(contracts.SubjectPaymentsFailed, "f-1", contracts.PaymentFailedEvent{OrderID: "o-2", Reason: contracts.FailureDeclined})
	h.Settled(contracts.StreamPayments, "inventory-release-on-payment-failed")
	if r := h.reservation("o-2"); r != nil {
		t.Fatalf("reservation %+v", r)
	}
}
