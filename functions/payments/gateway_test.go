package payments

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime/fntest"
)

func TestGatewaySettingsReachEveryInstance(t *testing.T) {
	h := newHarness(t)
	a := h.start("pay-1", Config{})
	b := h.start("pay-2", Config{})

	body, code := h.request(contracts.SubjectPaymentsGatewayGet, "")
	if code != "" || string(body) != `{"mode":"ok","failure_rate":0,"latency_ms":0}` {
		t.Fatalf("defaults: %q %s", code, body)
	}
	got := h.setGateway(`{"mode":"decline","latency_ms":5}`)
	if got != (contracts.GatewayReply{Mode: contracts.GatewayDecline, LatencyMS: 5}) {
		t.Fatalf("set reply %+v", got)
	}
	for _, f := range []*function{a, b} {
		fntest.Eventually(t, 20*time.Second, "the settings on both instances", func() bool {
			return f.sim.current() == got
		})
	}
	// Absent fields keep their value.
	got = h.setGateway(`{"mode":"ok","failure_rate":0.25}`)
	if got != (contracts.GatewayReply{Mode: contracts.GatewayOK, FailureRate: 0.25, LatencyMS: 5}) {
		t.Fatalf("set reply %+v", got)
	}
	body, _ = h.request(contracts.SubjectPaymentsGatewayGet, "{}")
	var read contracts.GatewayReply
	if err := json.Unmarshal(body, &read); err != nil || read != got {
		t.Fatalf("get %s", body)
	}
	if err := contracts.GatewayReplyV1.Validate(body); err != nil {
		t.Fatal(err)
	}
	for _, f := range []*function{a, b} {
		fntest.Eventually(t, 20*time.Second, "the settings on both instances", func() bool { return f.sim.current() == got })
	}

	for _, bad := range []string{`{}`, `{"mode":"broken"}`, `{"mode":"ok","failure_rate":2}`, `{"mode":"ok","latency_ms":-1}`, `{"mode":"ok","x":1}`} {
		if body, code := h.request(contracts.SubjectPaymentsGatewaySet, bad); code != "400" {
			t.Errorf("set %s: %q %s", bad, code, body)
		}
	}
}

// TestSimulatedCancel: the simulated gateway's Cancel refunds a charge made
// (once, however often it is called) and calls off a charge not made yet,
// so that a Charge after it answers ErrCancelled and charges nothing.
func TestSimulatedCancel(t *testing.T) {
	h := newHarness(t)
	f := h.start("pay-1", Config{})
	ctx := t.Context()

	id, err := f.sim.Charge(ctx, "o-paid", 900)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		c, err := f.sim.Cancel(ctx, "o-paid")
		if err != nil || c != (Cancellation{Refunded: true, PaymentID: id, AmountCents: 900}) {
			t.Fatalf("cancel after the charge: %+v, %v", c, err)
		}
	}

	c, err := f.sim.Cancel(ctx, "o-early")
	if err != nil || c.Refunded {
		t.Fatalf("cancel before the charge: %+v, %v", c, err)
	}
	if _, err := f.sim.Charge(ctx, "o-early", 100); !errors.Is(err, ErrCancelled) {
		t.Fatalf("charge after the cancel: %v, want ErrCancelled", err)
	}

	if charges, refunds := h.charges(), h.refunds(); len(charges) != 1 || charges["o-paid"] != 1 || len(refunds) != 1 || refunds["o-paid"] != 1 {
		t.Fatalf("ledger: charges %v, refunds %v", charges, refunds)
	}

	h.setGateway(`{"mode":"outage"}`)
	fntest.Eventually(t, 20*time.Second, "outage mode", func() bool { return f.sim.current().Mode == contracts.GatewayOutage })
	if _, err := f.sim.Cancel(ctx, "o-late"); !errors.Is(err, ErrOutage) {
		t.Fatalf("cancel during an outage: %v, want ErrOutage", err)
	}
}

// TestCallWaitsForStoredSettings: an instance follows the stored settings
// through a watch it makes after its start; a gateway call made at once
// waits for them, so that no instance charges in ok mode, its defaults,
// while the gateway is set to an outage.
func TestCallWaitsForStoredSettings(t *testing.T) {
	h := newHarness(t)
	h.start("pay-1", Config{})
	h.setGateway(`{"mode":"outage"}`)
	for i := range 5 {
		f := h.start(fmt.Sprintf("pay-late-%d", i), Config{})
		order := fmt.Sprintf("o-%d", i)
		if id, err := f.sim.Charge(t.Context(), order, 100); !errors.Is(err, ErrOutage) {
			t.Fatalf("instance %d, started after the outage was set: charge %q, %v; want ErrOutage", i, id, err)
		}
		if s := f.sim.current(); s.Mode != contracts.GatewayOutage {
			t.Fatalf("instance %d follows %+v", i, s)
		}
	}
	if c := h.charges(); len(c) != 0 {
		t.Fatalf("ledger %v", c)
	}
}
