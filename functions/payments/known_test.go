package payments

import (
	"testing"
	"time"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestChargeWaitsForOrdersToKnowTheOrder: "not found" from orders.get is
// transient (a replica lagging behind the order's write, or orders'
// projection storing it): the charge comes back, and charges the order
// once orders knows it, with no dead letter (issue 8.4).
func TestChargeWaitsForOrdersToKnowTheOrder(t *testing.T) {
	h := newHarness(t)
	h.orders.Store("o-late", unknownStatus)
	h.start("pay-1", Config{UnknownOrderWait: time.Minute})
	h.reserved("o-late", "m-late", 700)
	fntest.Eventually(t, 10*time.Second, "orders asked twice", func() bool { return h.asked.Load() >= 2 })
	if c := h.charges(); len(c) != 0 {
		t.Fatalf("charged an order orders does not know: %v", c)
	}
	h.orders.Store("o-late", contracts.StatusReserved)
	fntest.Eventually(t, 10*time.Second, "the order charged", func() bool { return len(h.completed()) == 1 })
	if c := h.charges(); c["o-late"] != 1 {
		t.Fatalf("ledger %v", c)
	}
	if n := len(h.events("DEADLETTER", "deadletter.payments.charge")); n != 0 {
		t.Fatalf("%d dead letters", n)
	}
}

// TestChargeDeclinesUnknownOrder: an inventory.reserved for an order the
// orders function never stored (a stray event) takes no money: past
// UnknownOrderWait the payment is declined without calling the gateway,
// and payments.failed makes inventory give the stock back (issue 8.6).
func TestChargeDeclinesUnknownOrder(t *testing.T) {
	h := newHarness(t)
	h.orders.Store("o-stray", unknownStatus)
	h.start("pay-1", Config{UnknownOrderWait: time.Second})
	h.reserved("o-stray", "m-stray", 900)
	fntest.Eventually(t, 10*time.Second, "the stray payment declined", func() bool { return len(h.failed()) == 1 })
	if ev := h.failed()["o-stray"]; ev.Reason != contracts.FailureDeclined || ev.AmountCents != 900 {
		t.Fatalf("payments.failed %+v", ev)
	}
	if c := h.charges(); len(c) != 0 {
		t.Fatalf("charged an order orders does not know: %v", c)
	}
	if s := h.paymentState("o-stray"); s != stateFailed {
		t.Fatalf("payment %q", s)
	}
	h.Settled(contracts.StreamInventory, "payments-charge")
	if n := len(h.events("DEADLETTER", "deadletter.payments.charge")); n != 0 {
		t.Fatalf("%d dead letters", n)
	}
}

// TestChargeSkipsCancelledOrder: an order cancelled before its charge is
// never charged; void calls its payment off.
func TestChargeSkipsCancelledOrder(t *testing.T) {
	h := newHarness(t)
	h.orders.Store("o-gone", contracts.StatusCancelled)
	h.start("pay-1", Config{})
	h.reserved("o-gone", "m-gone", 500)
	h.Settled(contracts.StreamInventory, "payments-charge")
	if c := h.charges(); len(c) != 0 {
		t.Fatalf("charged a cancelled order: %v", c)
	}
	if n := len(h.completed()) + len(h.failed()); n != 0 {
		t.Fatalf("%d payment events for a cancelled order", n)
	}
}
