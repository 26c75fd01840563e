package containers

import (
	"testing"
	"time"

	"github.com/natsfn/natsfn/contracts"
)

// TestFunctionCrash kills (SIGKILL) an inventory and a payments container
// in the middle of a steady stream of orders, the payments one while it
// holds charges in flight, then starts them again. What they held
// unacknowledged comes back after AckWait to the other instance; every
// order still ends confirmed, the stock taken is exactly what the
// confirmed orders hold, and no order is charged twice.
func TestFunctionCrash(t *testing.T) {
	s := newStack(t, 2)
	f := s.admin
	const initial = 1000 // more than the run can sell: every order must confirm
	f.setStock("sku-load", initial, 250)
	// A slow gateway keeps charges in flight, so the kill interrupts some.
	f.gatewaySet(contracts.SetGatewayRequest{Mode: contracts.GatewayOK, LatencyMS: ptr(300)})

	l := f.startLoad(20, "sku-load", 1)
	l.waitCount(40, 30*time.Second)
	// Kill the payments instance that holds charges: with two instances
	// pulling from one consumer, either may be the one doing the work.
	inv := s.fns["inventory"][0]
	var pay *function
	waitFor(t, 15*time.Second, 20*time.Millisecond, "a payments instance with charges in flight", func() error {
		stats, err := f.instanceStats("payments", 2)
		if err != nil {
			return err
		}
		for _, p := range s.fns["payments"] {
			if fig, ok := eventFigures(stats[p.instance], "charge"); ok && fig.InFlight > 0 {
				pay = p
				return nil
			}
		}
		return errorf("no payments instance has a charge in flight")
	})
	s.kill(pay.c)
	s.kill(inv.c)
	t.Logf("killed %s and %s after %d orders", pay.instance, inv.instance, l.count())
	l.waitCount(l.count()+60, 30*time.Second)
	for _, v := range []*function{inv, pay} {
		start := time.Now()
		if err := v.c.Start(s.ctx); err != nil {
			t.Fatalf("start %s again: %v", v.instance, err)
		}
		t.Logf("%s ready again in %s", v.instance, time.Since(start).Round(time.Millisecond))
	}
	l.waitCount(l.count()+60, 30*time.Second)
	acked, failed := l.stop()
	if len(failed) > 0 {
		t.Errorf("%d creates failed although orders never stopped (first: %v)", len(failed), failed[0])
	}

	views := f.settleAll(acked, 90*time.Second)
	t.Logf("%d orders acknowledged, outcomes %v", len(acked), outcomes(views))
	for id, v := range views {
		if v.Status != contracts.StatusConfirmed {
			t.Errorf("order %s: %s/%s, want confirmed (stock suffices): %+v", id, v.Status, v.Reason, v.Timeline)
		}
	}
	f.audit("sku-load", initial, views)
	charge, err := f.handlerTotals("payments", "charge", 2)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("payments charge since the restart: %+v", charge)
	if charge.Redelivered == 0 {
		t.Errorf("no charge was redelivered: the kill interrupted nothing in flight")
	}
	s.waitAllReady(30 * time.Second)
}
