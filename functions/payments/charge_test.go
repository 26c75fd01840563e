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
			fntest.Eventually(t, 5*time.Second, "the settings", func() bool {
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
			h.settled(contracts.StreamInventory, "payments-charge")
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
	h.settled(contracts.StreamInventory, "payments-charge")
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
	h.publish(contracts.SubjectOrdersCancelled, "c-1", contracts.OrderCancelledEvent{OrderID: "o-1", Reason: contracts.ReasonCancelledByCustomer})
	h.settled(contracts.StreamOrders, "payments-void")
	h.reserved("o-1", "m-1", 100)
	h.settled(contracts.StreamInventory, "payments-charge")
	if s := h.paymentState("o-1"); s != stateVoided {
		t.Fatalf("payment %q, want voided", s)
	}
	if c := h.charges(); len(c) != 0 {
		t.Fatalf("ledger %v", c)
	}
	if len(h.completed())+len(h.failed()) != 0 {
		t.Fatal("a payment event for a voided order")
	}
	// A cancel after the payment leaves the payment alone.
	h.reserved("o-2", "m-2", 100)
	fntest.Eventually(t, 10*time.Second, "payments.completed", func() bool { return len(h.completed()) == 1 })
	h.publish(contracts.SubjectOrdersCancelled, "c-2", contracts.OrderCancelledEvent{OrderID: "o-2", Reason: contracts.ReasonCancelledByCustomer})
	h.settled(contracts.StreamOrders, "payments-void")
	if s := h.paymentState("o-2"); s != stateCompleted {
		t.Fatalf("payment %q, want completed", s)
	}
}
