package containers

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime/deadletter"
)

// moneyPhases sets every event whose money changed in major 2 to phase.
func moneyPhases(phase string) map[string]string {
	return map[string]string{"NATSFN_PHASES": "inventory.reserved=" + phase + ",payments.completed=" + phase +
		",payments.failed=" + phase + ",payments.refunded=" + phase}
}

// TestRollingPhases is issue 10's rolling upgrade under load: every
// function starts at phase v1 under about 50 orders/s (five products); the producers
// (inventory, payments) are rolled to dual one instance at a time (the new
// container ready before the old one stops, as a rolling update does), the
// consumers (orders) are rolled one instance at a time, then the producers
// to v2, each restart with the new environment. Nothing is dead-lettered,
// every order is confirmed and charged once, and the stock is exact.
func TestRollingPhases(t *testing.T) {
	s := newStack(t, 2)
	f := s.admin
	// Five products at 10 orders/s each: one product at 50/s measures
	// inventory's contention on one stock key (tests/e2e's load), not the
	// upgrade. At 20/s each, a CI run on the 2-core machine fell minutes
	// behind during the dual phase (inventory's stock transactions timing
	// out at the 10 s AckWait, 985 orders.created waiting): a test of the
	// machine's capacity, which TestDrills measures at 100/s, not of the
	// upgrade.
	const initial = 100000
	var loads []*load
	for i := range 5 {
		sku := "sku-roll-" + itoa(i)
		f.setStock(sku, initial, 250)
		loads = append(loads, f.startLoad(10, sku, 1))
	}
	l := loads[0]
	l.waitCount(20, 30*time.Second)

	generation := 0
	roll := func(fn string, env map[string]string) {
		generation++
		old := slices.Clone(s.fns[fn])
		for i, o := range old {
			start := time.Now()
			next := s.startFunctions(functionSpec{name: fn, instance: fn + "-g" + itoa(generation) + "-" + itoa(i+1), env: env})[0]
			timeout := 20 * time.Second
			if err := o.c.Stop(s.ctx, &timeout); err != nil {
				t.Fatalf("stop %s: %v", o.instance, err)
			}
			s.fns[fn] = slices.DeleteFunc(s.fns[fn], func(x *function) bool { return x == o })
			t.Logf("%s replaced %s in %s (%d orders so far)", next.instance, o.instance, time.Since(start).Round(time.Millisecond), 5*l.count())
			l.waitCount(l.count()+10, 30*time.Second)
		}
	}
	roll("inventory", moneyPhases("dual"))
	roll("payments", moneyPhases("dual"))
	roll("orders", nil) // the consumers read both majors in every build: a restart, one instance at a time
	roll("inventory", moneyPhases("v2"))
	roll("payments", moneyPhases("v2"))
	l.waitCount(l.count()+20, 30*time.Second)
	var acked []string
	for _, l := range loads {
		a, failed := l.stop()
		if len(failed) > 0 {
			t.Errorf("%d creates failed during the rolling upgrade (first: %v)", len(failed), failed[0])
		}
		acked = append(acked, a...)
	}

	views := f.settleAll(acked, 180*time.Second)
	t.Logf("%d orders acknowledged, outcomes %v", len(acked), outcomes(views))
	for id, v := range views {
		if v.Status != contracts.StatusConfirmed {
			t.Errorf("order %s: %s/%s, want confirmed: %+v", id, v.Status, v.Reason, v.Timeline)
		}
	}
	for i := range 5 {
		f.audit("sku-roll-"+itoa(i), initial, views)
	}
	for _, fn := range functionNames {
		var dl deadletter.ListReply
		f.call(fn+".dlq.list", deadletter.ListRequest{}, &dl)
		if dl.Count != 0 {
			t.Errorf("%s dead-lettered %d events: %+v", fn, dl.Count, dl.Entries)
		}
	}
	for _, c := range []struct{ stream, subject string }{
		{contracts.StreamInventory, contracts.SubjectInventoryReserved},
		{contracts.StreamInventory, contracts.SubjectInventoryReservedV2},
		{contracts.StreamPayments, contracts.SubjectPaymentsCompleted},
		{contracts.StreamPayments, contracts.SubjectPaymentsCompletedV2},
	} {
		st, err := f.js.Stream(s.ctx, c.stream)
		if err != nil {
			t.Fatal(err)
		}
		info, err := st.Info(s.ctx, jetstream.WithSubjectFilter(c.subject))
		if err != nil {
			t.Fatal(err)
		}
		n := info.State.Subjects[c.subject]
		t.Logf("%s holds %d", c.subject, n)
		if n == 0 {
			t.Errorf("no %s stored: the phase never published it", c.subject)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
