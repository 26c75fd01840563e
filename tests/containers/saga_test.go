package containers

import (
	"testing"
	"time"

	"github.com/natsfn/natsfn/contracts"
)

// TestHealthyCluster runs on one stack (3 NATS nodes, two instances of
// every function) what breaks nothing, one after the other: the saga's
// outcomes, discovery through the nats CLI, and the accounts' least
// privilege. Each stack takes 12-15 s to start; these need no fresh one.
func TestHealthyCluster(t *testing.T) {
	s := newStack(t, 2)
	t.Run("saga", func(t *testing.T) { sagaAcrossContainers(t, s) })
	t.Run("micro discovery", func(t *testing.T) { microDiscovery(t, s) })
	t.Run("least privilege", func(t *testing.T) { leastPrivilege(t, s) })
}

// sagaAcrossContainers runs the three outcomes of an order on the cluster:
// confirmed, out of stock, and a declined payment whose stock comes back.
func sagaAcrossContainers(t *testing.T, s *stack) {
	f := s.admin
	f.setStock("sku-a", 10, 1250)
	f.setStock("sku-b", 5, 300)
	f.setStock("sku-rare", 1, 9900)

	t.Run("confirmed", func(t *testing.T) {
		id := f.place("c-1", item("sku-a", 2), item("sku-b", 1))
		v := f.settle(30*time.Second, id)[id]
		if v.Status != contracts.StatusConfirmed || v.PaymentID == "" || v.TotalCents != 2*1250+300 {
			t.Fatalf("order %+v", v)
		}
		if a, b := f.stock("sku-a"), f.stock("sku-b"); a != 8 || b != 4 {
			t.Fatalf("stock left: sku-a %d (want 8), sku-b %d (want 4)", a, b)
		}
		if n := f.charges()[id]; n != 1 {
			t.Fatalf("charged %d times, want 1", n)
		}
	})

	t.Run("out_of_stock", func(t *testing.T) {
		id := f.place("c-2", item("sku-rare", 5))
		v := f.settle(30*time.Second, id)[id]
		if v.Status != contracts.StatusCancelled || v.Reason != contracts.ReasonOutOfStock {
			t.Fatalf("order %+v", v)
		}
		if n := f.stock("sku-rare"); n != 1 {
			t.Fatalf("sku-rare stock %d, want 1 (untouched)", n)
		}
		if n := f.charges()[id]; n != 0 {
			t.Fatalf("charged %d times, want 0", n)
		}
	})

	t.Run("payment_declined", func(t *testing.T) {
		f.gateway(contracts.GatewayDecline)
		id := f.place("c-3", item("sku-a", 3))
		v := f.settle(30*time.Second, id)[id]
		f.gateway(contracts.GatewayOK)
		if v.Status != contracts.StatusCancelled || v.Reason != contracts.ReasonPaymentDeclined {
			t.Fatalf("order %+v", v)
		}
		waitFor(t, 20*time.Second, 100*time.Millisecond, "declined order's stock released", func() error {
			if n := f.stock("sku-a"); n != 8 {
				return errorf("sku-a stock %d, want 8", n)
			}
			return nil
		})
		if n := f.charges()[id]; n != 0 {
			t.Fatalf("declined order charged %d times", n)
		}
		// The gateway is back to ok for every payments instance.
		id2 := f.place("c-4", item("sku-a", 1))
		if v := f.settle(30*time.Second, id2)[id2]; v.Status != contracts.StatusConfirmed {
			t.Fatalf("order after the gateway recovered: %+v", v)
		}
		if n := f.stock("sku-a"); n != 7 {
			t.Fatalf("sku-a stock %d, want 7", n)
		}
	})
}
