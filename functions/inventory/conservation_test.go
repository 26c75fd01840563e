package inventory

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/natsfn/natsfn/contracts"
)

// TestStockIsConserved runs three instances against concurrent multi-item
// orders, duplicate deliveries, cancels (some before their reservation)
// and payment failures. Whatever the interleaving, every unit is either in
// stock or held by exactly one reserved order.
func TestStockIsConserved(t *testing.T) {
	const orders = 120
	initial := map[string]int{"sku-a": 40, "sku-b": 25, "sku-c": 8}
	h := newHarness(t)
	seed := catalog(product("sku-a", initial["sku-a"], 100), product("sku-b", initial["sku-b"], 250), product("sku-c", initial["sku-c"], 1000))
	for i := range 3 {
		h.start(fmt.Sprint("inv-", i), seed)
	}

	rng := rand.New(rand.NewPCG(1, 2))
	skus := []string{"sku-a", "sku-b", "sku-c"}
	items := make([][]contracts.OrderItem, orders)
	for i := range items {
		for _, j := range rng.Perm(3)[:1+rng.IntN(3)] {
			items[i] = append(items[i], item(skus[j], 1+rng.IntN(3)))
		}
	}
	var g errgroup.Group
	for i := range orders {
		id := orderID(i)
		g.Go(func() error {
			if i%7 == 0 { // cancelled before (or while) it is reserved
				h.Publish(contracts.SubjectOrdersCancelled, "c-"+id, contracts.OrderCancelledEvent{OrderID: id, Reason: contracts.ReasonCancelledByCustomer})
			}
			h.created(id, "m-"+id, items[i]...)
			if i%4 == 0 {
				h.created(id, "dup-"+id, items[i]...)
			}
			switch {
			case i%5 == 0:
				h.Publish(contracts.SubjectPaymentsFailed, "f-"+id, contracts.PaymentFailedEvent{OrderID: id, Reason: contracts.FailureDeclined})
			case i%3 == 0:
				h.Publish(contracts.SubjectOrdersCancelled, "c2-"+id, contracts.OrderCancelledEvent{OrderID: id, Reason: contracts.ReasonCancelledByCustomer})
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	h.settledWithin(90*time.Second, contracts.StreamOrders, "inventory-reserve")
	h.settledWithin(90*time.Second, contracts.StreamOrders, "inventory-release-on-cancel")
	h.settledWithin(90*time.Second, contracts.StreamPayments, "inventory-release-on-payment-failed")

	held := map[string]int{}
	states := map[state]int{}
	for i := range orders {
		r := h.reservation(orderID(i))
		if r == nil {
			t.Fatalf("order %d: no reservation", i)
		}
		states[r.State]++
		for _, l := range r.Lines {
			if r.State == stateReserved {
				held[l.ProductID] += l.Quantity
			}
		}
	}
	for sku, n := range initial {
		if q := h.quantity(sku); q < 0 || q+held[sku] != n {
			t.Errorf("%s: %d in stock + %d held != %d", sku, q, held[sku], n)
		}
	}
	reserved := len(h.events(contracts.StreamInventory, contracts.SubjectInventoryReserved))
	rejected := len(h.events(contracts.StreamInventory, contracts.SubjectInventoryRejected))
	released := len(h.events(contracts.StreamInventory, contracts.SubjectInventoryReleased))
	if rejected != states[stateRejected] || reserved-released != states[stateReserved] {
		t.Errorf("events: %d reserved, %d rejected, %d released; states %v", reserved, rejected, released, states)
	}
	t.Logf("states %v, events reserved=%d rejected=%d released=%d", states, reserved, rejected, released)
}
