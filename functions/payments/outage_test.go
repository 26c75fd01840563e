package payments

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestOutageDelaysOrdersNeverFailsThem: during an outage the breaker
// opens and the charges wait; after recovery every order is charged once.
func TestOutageDelaysOrdersNeverFailsThem(t *testing.T) {
	const orders = 10
	h := newHarness(t)
	f := h.start("pay-1", Config{Breaker: BreakerConfig{Failures: 3, OpenTimeout: 200 * time.Millisecond}})
	h.setGateway(`{"mode":"outage"}`)
	fntest.Eventually(t, 20*time.Second, "outage mode", func() bool { return f.sim.current().Mode == contracts.GatewayOutage })

	for i := range orders {
		h.reserved(fmt.Sprint("o-", i), fmt.Sprint("m-", i), int64(100+i))
	}
	fntest.Eventually(t, 10*time.Second, "the breaker open and the consumer paused", func() bool {
		return f.breaker.opened.Load() > 0 && f.breaker.paused.Load() > 0
	})
	// The orders wait: no event, nothing charged, every message still owed.
	c, err := h.JS.Consumer(context.Background(), contracts.StreamInventory, "payments-charge")
	if err != nil {
		t.Fatal(err)
	}
	fntest.Eventually(t, 20*time.Second, "the messages waiting", func() bool {
		info, err := c.Info(context.Background())
		return err == nil && info.AckFloor.Stream == 0 && info.NumAckPending+int(info.NumPending) == orders
	})
	if n := len(h.completed()) + len(h.failed()); n != 0 {
		t.Fatalf("%d payment events during the outage", n)
	}
	if c := h.charges(); len(c) != 0 {
		t.Fatalf("charged during the outage: %v", c)
	}

	h.setGateway(`{"mode":"ok","failure_rate":0}`)
	fntest.Eventually(t, 20*time.Second, "every order completed", func() bool { return len(h.completed()) == orders })
	h.Settled(contracts.StreamInventory, "payments-charge")
	if n := len(h.failed()); n != 0 {
		t.Fatalf("%d orders failed because of an outage", n)
	}
	charges := h.charges()
	if len(charges) != orders {
		t.Fatalf("ledger %v", charges)
	}
	for id, n := range charges {
		if n != 1 {
			t.Fatalf("order %s charged %d times", id, n)
		}
	}
	for id, ev := range h.completed() {
		if ev.AmountCents < 100 || ev.AmountCents >= 100+orders || ev.PaymentID == "" {
			t.Fatalf("%s: %+v", id, ev)
		}
	}
	if n := len(h.events("DEADLETTER", "deadletter.payments.charge")); n != 0 {
		t.Fatalf("%d dead letters", n)
	}
}
