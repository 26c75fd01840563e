package payments

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

func TestChargeCompletes(t *testing.T) {
	h := newHarness(t)
	h.start("pay-1", Config{})
	h.reserved("o-1", "m-1", 8997)
	fntest.Eventually(t, 10*time.Second, "payments.completed", func() bool { return len(h.completed()) == 1 })
	got := h.completed()["o-1"]
	if got.AmountCents != 8997 || got.PaymentID == "" {
		t.Fatalf("completed %+v", got)
	}
	ev := h.events(contracts.StreamPayments, contracts.SubjectPaymentsCompleted)[0]
	if id := ev.Header.Get(nats.MsgIdHdr); id != "payments.completed:o-1" {
		t.Errorf("Nats-Msg-Id %q", id)
	}
	if c := ev.Header.Get(runtime.HeaderCorrelationID); c != "corr-m-1" {
		t.Errorf("correlation id %q", c)
	}
	if s := h.paymentState("o-1"); s != stateCompleted {
		t.Errorf("payment %s", s)
	}
	if c := h.charges(); len(c) != 1 || c["o-1"] != 1 {
		t.Errorf("ledger %v", c)
	}
}

func TestDeclines(t *testing.T) {
	cases := []struct{ name, settings string }{
		{"decline mode", `{"mode":"decline"}`},
		{"failure rate 1", `{"mode":"ok","failure_rate":1}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			f := h.start("pay-1", Config{})
			h.setGateway(tc.settings)
			fntest.Eventually(t, 20*time.Second, "the settings", func() bool {
				s := f.sim.current()
				return s.Mode != contracts.GatewayOK || s.FailureRate == 1
			})
			h.reserved("o-1", "m-1", 500)
			fntest.Eventually(t, 10*time.Second, "payments.failed", func() bool { return len(h.failed()) == 1 })
			if got := h.failed()["o-1"]; got.Reason != contracts.FailureDeclined || got.AmountCents != 500 {
				t.Fatalf("failed %+v", got)
			}
			// A redelivery announces the same decline, even in ok mode now.
			h.setGateway(`{"mode":"ok","failure_rate":0}`)
			h.reserved("o-1", "m-2", 500)
			h.Settled(contracts.StreamInventory, "payments-charge")
			if n := len(h.events(contracts.StreamPayments, contracts.SubjectPaymentsFailed)); n != 1 || len(h.completed()) != 0 {
				t.Fatalf("%d payments.failed, %d completed", n, len(h.completed()))
			}
			if c := h.charges(); len(c) != 0 {
				t.Fatalf("ledger %v", c)
			}
		})
	}
}

// TestRedeliveredChargesOnce: a duplicate inventory.reserved, and a crash
// between the gateway's charge and the record, charge each order once.
func TestRedeliveredChargesOnce(t *testing.T) {
	h := newHarness(t)
	var mu sync.Mutex
	crashes := 0
	h.start("pay-1", Config{hooks: hooks{at: func(point, id string) error {
		mu.Lock()
		defer mu.Unlock()
		if point == pointCharged && id == "o-crash" && crashes == 0 {
			crashes++
			return runtime.RetryAfter(10*time.Millisecond, fmt.Errorf("crash: %w", runtime.ErrUnavailable))
		}
		return nil
	}}})
	h.reserved("o-dup", "m-1", 100)
	h.reserved("o-dup", "m-2", 100)
	h.reserved("o-crash", "m-3", 200)
	h.Settled(contracts.StreamInventory, "payments-charge")
	mu.Lock()
	if crashes != 1 {
		t.Fatalf("%d crashes", crashes)
	}
	mu.Unlock()
	if c := h.charges(); len(c) != 2 || c["o-dup"] != 1 || c["o-crash"] != 1 {
		t.Fatalf("ledger %v", c)
	}
	if n := len(h.events(contracts.StreamPayments, contracts.SubjectPaymentsCompleted)); n != 2 {
		t.Fatalf("%d payments.completed, want one per order", n)
	}
}

func TestVoidBeforeChargeChargesNothing(t *testing.T) {
	h := newHarness(t)
	h.start("pay-1", Config{})
	h.Publish(contracts.SubjectOrdersCancelled, "c-1", contracts.OrderCancelledEvent{OrderID: "o-1", Reason: contracts.ReasonCancelledByCustomer})
	h.Settled(contracts.StreamOrders, "payments-void")
	h.reserved("o-1", "m-1", 100)
	h.Settled(contracts.StreamInventory, "payments-charge")
	if s := h.paymentState("o-1"); s != stateVoided {
		t.Fatalf("payment %q, want voided", s)
	}
	if c := h.charges(); len(c) != 0 {
		t.Fatalf("ledger %v", c)
	}
	if len(h.completed())+len(h.failed()) != 0 {
		t.Fatal("a payment event for a voided order")
	}
}

// TestCancelAfterChargeRefunds: an order cancelled after its charge went
// through (the cancel raced the payment and lost) is refunded once, and
// payments.refunded is announced once, however often the cancel comes.
func TestCancelAfterChargeRefunds(t *testing.T) {
	h := newHarness(t)
	h.start("pay-1", Config{})
	h.reserved("o-2", "m-2", 700)
	fntest.Eventually(t, 10*time.Second, "payments.completed", func() bool { return len(h.completed()) == 1 })
	paymentID := h.completed()["o-2"].PaymentID
	for _, msgID := range []string{"c-2", "c-2-again"} {
		h.Publish(contracts.SubjectOrdersCancelled, msgID, contracts.OrderCancelledEvent{OrderID: "o-2", Reason: contracts.ReasonCancelledByCustomer})
		h.Settled(contracts.StreamOrders, "payments-void")
	}
	if s := h.paymentState("o-2"); s != stateRefunded {
		t.Fatalf("payment %q, want refunded", s)
	}
	refunded := h.refunded()
	if ev, ok := refunded["o-2"]; len(refunded) != 1 || !ok || ev.PaymentID != paymentID || ev.AmountCents != 700 {
		t.Fatalf("payments.refunded %+v, want o-2's payment %s of 700", refunded, paymentID)
	}
	if n := len(h.events(contracts.StreamPayments, contracts.SubjectPaymentsRefunded)); n != 1 {
		t.Fatalf("%d payments.refunded, want 1", n)
	}
	if c, r := h.charges(), h.refunds(); c["o-2"] != 1 || r["o-2"] != 1 || len(r) != 1 {
		t.Fatalf("ledger: charges %v, refunds %v", c, r)
	}
	// A late inventory.reserved changes nothing.
	h.reserved("o-2", "m-2-late", 700)
	h.Settled(contracts.StreamInventory, "payments-charge")
	if s, c := h.paymentState("o-2"), h.charges(); s != stateRefunded || c["o-2"] != 1 {
		t.Fatalf("after a late inventory.reserved: payment %q, charges %v", s, c)
	}
}

// TestCancelDuringChargeRefunds: the cancel lands while the gateway
// charges (after the charge, before the record says so). The charge's
// write loses to void's; void's Cancel refunds the charge; only
// payments.refunded is announced.
func TestCancelDuringChargeRefunds(t *testing.T) {
	h := newHarness(t)
	taken := make(chan struct{})
	h.start("pay-1", Config{hooks: hooks{at: func(point, id string) error {
		if point != pointCharged || id != "o-race" {
			return nil
		}
		select {
		case <-taken:
		case <-time.After(10 * time.Second):
		}
		return nil
	}}})
	h.reserved("o-race", "m-1", 300)
	fntest.Eventually(t, 10*time.Second, "the charge made", func() bool { return h.charges()["o-race"] == 1 })
	h.Publish(contracts.SubjectOrdersCancelled, "c-1", contracts.OrderCancelledEvent{OrderID: "o-race", Reason: contracts.ReasonCancelledByCustomer})
	fntest.Eventually(t, 10*time.Second, "the record refunded", func() bool { return h.paymentState("o-race") == stateRefunded })
	close(taken)
	h.Settled(contracts.StreamInventory, "payments-charge")
	h.Settled(contracts.StreamOrders, "payments-void")
	if s := h.paymentState("o-race"); s != stateRefunded {
		t.Fatalf("payment %q after the charge finished, want refunded", s)
	}
	if c, r := h.charges(), h.refunds(); c["o-race"] != 1 || r["o-race"] != 1 {
		t.Fatalf("ledger: charges %v, refunds %v", c, r)
	}
	if len(h.completed()) != 0 || len(h.refunded()) != 1 {
		t.Fatalf("%d payments.completed (want 0), %d payments.refunded (want 1)", len(h.completed()), len(h.refunded()))
	}
}

// TestCancelDuringOutageVoids: an order waiting out a gateway outage is
// cancelled. The cancel waits for the gateway too; once it is back, the
// payment is called off before any charge: nothing is charged, nothing
// refunded, no payment event.
func TestCancelDuringOutageVoids(t *testing.T) {
	h := newHarness(t)
	f := h.start("pay-1", Config{Breaker: BreakerConfig{Failures: 1, OpenTimeout: 300 * time.Millisecond}})
	h.setGateway(`{"mode":"outage"}`)
	fntest.Eventually(t, 20*time.Second, "outage mode", func() bool { return f.sim.current().Mode == contracts.GatewayOutage })
	h.reserved("o-wait", "m-1", 400)
	fntest.Eventually(t, 10*time.Second, "the charge waiting", func() bool { return f.breaker.opened.Load() > 0 })
	h.Publish(contracts.SubjectOrdersCancelled, "c-1", contracts.OrderCancelledEvent{OrderID: "o-wait", Reason: contracts.ReasonCancelledByCustomer})
	fntest.Eventually(t, 10*time.Second, "the record cancelling", func() bool { return h.paymentState("o-wait") == stateCancelling })

	h.setGateway(`{"mode":"ok","failure_rate":0}`)
	fntest.Eventually(t, 20*time.Second, "the record voided", func() bool { return h.paymentState("o-wait") == stateVoided })
	h.Settled(contracts.StreamInventory, "payments-charge")
	h.Settled(contracts.StreamOrders, "payments-void")
	if c, r := h.charges(), h.refunds(); len(c) != 0 || len(r) != 0 {
		t.Fatalf("ledger: charges %v, refunds %v, want none", c, r)
	}
	if n := len(h.completed()) + len(h.failed()) + len(h.refunded()); n != 0 {
		t.Fatalf("%d payment events for an order cancelled during an outage", n)
	}
	if n := len(h.events("DEADLETTER", "deadletter.payments.>")); n != 0 {
		t.Fatalf("%d dead letters", n)
	}
}
