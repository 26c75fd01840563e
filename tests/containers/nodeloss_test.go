package containers

import (
	"testing"
	"time"

	"github.com/natsfn/natsfn/contracts"
)

// TestNATSNodeLoss stops one of the three NATS nodes under a steady load,
// keeps placing orders while it is down, then starts it again. No
// acknowledged order is lost (every one ends confirmed), the functions
// that were connected to the lost node reconnect by themselves, and the
// books balance.
func TestNATSNodeLoss(t *testing.T) {
	s := newStack(t, 2)
	f := s.admin
	const initial = 1000
	f.setStock("sku-load", initial, 250)

	l := f.startLoad(20, "sku-load", 1)
	l.waitCount(40, 30*time.Second)
	// Stop a node the test client is not on, so what is measured is the
	// functions' and the cluster's recovery, not the client's: the one
	// most function instances are connected to.
	var victim *natsNode
	var onVictim []string
	for _, n := range s.nodes {
		if n.name == f.nc.ConnectedServerName() {
			continue
		}
		if names := n.connections(t); victim == nil || len(names) > len(onVictim) {
			victim, onVictim = n, names
		}
	}
	stop := 10 * time.Second
	if err := victim.c.Stop(s.ctx, &stop); err != nil {
		t.Fatalf("stop %s: %v", victim.name, err)
	}
	down := l.count()
	t.Logf("stopped %s after %d orders; it served %v", victim.name, down, onVictim)

	// While it is down: orders keep being acknowledged, and every function
	// serves (those that were on the node moved to another).
	l.waitCount(down+100, 60*time.Second)
	s.waitAllReady(60 * time.Second)
	t.Logf("%d orders acknowledged while %s was down; every function ready", l.count()-down, victim.name)

	start := time.Now()
	if err := victim.c.Start(s.ctx); err != nil {
		t.Fatalf("start %s again: %v", victim.name, err)
	}
	s.waitClusterHealthy(60 * time.Second)
	t.Logf("%s back and the cluster healthy in %s", victim.name, time.Since(start).Round(time.Millisecond))
	l.waitCount(l.count()+40, 30*time.Second)
	acked, failed := l.stop()
	for i, err := range failed {
		if i == 3 {
			break
		}
		t.Logf("create not acknowledged (no order promised): %v", err)
	}

	views := f.settleAll(acked, 90*time.Second)
	t.Logf("%d orders acknowledged, %d creates failed, outcomes %v", len(acked), len(failed), outcomes(views))
	for _, id := range acked {
		if v := views[id]; v.Status != contracts.StatusConfirmed {
			t.Errorf("acknowledged order %s: %s/%s, want confirmed: %+v", id, v.Status, v.Reason, v.Timeline)
		}
	}
	f.audit("sku-load", initial, views)
	s.waitAllReady(60 * time.Second)
}
