package inventory

import (
	"fmt"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestNeverOversold: two instances, 100 concurrent one-unit orders, 30
// units: exactly 30 reserved, 70 rejected, nothing left.
func TestNeverOversold(t *testing.T) {
	const orders, units = 100, 30
	h := newHarness(t)
	seed := catalog(product("sku-hot", units, 500))
	h.start("inv-1", seed)
	h.start("inv-2", seed)

	var g errgroup.Group
	for i := range orders {
		g.Go(func() error {
			h.created(orderID(i), fmt.Sprint("m-", i), item("sku-hot", 1))
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	fntest.Eventually(t, 30*time.Second, "an outcome for every order", func() bool {
		return len(h.events(contracts.StreamInventory, contracts.SubjectInventoryReserved))+
			len(h.events(contracts.StreamInventory, contracts.SubjectInventoryRejected)) >= orders
	})
	h.Settled(contracts.StreamOrders, "inventory-reserve")

	reserved := h.events(contracts.StreamInventory, contracts.SubjectInventoryReserved)
	rejected := h.events(contracts.StreamInventory, contracts.SubjectInventoryRejected)
	if len(reserved) != units || len(rejected) != orders-units {
		t.Fatalf("%d reserved, %d rejected; want %d and %d", len(reserved), len(rejected), units, orders-units)
	}
	seen := map[string]bool{}
	for _, ev := range reserved {
		seen[decode[contracts.InventoryReservedEvent](t, ev).OrderID] = true
	}
	for _, ev := range rejected {
		r := decode[contracts.InventoryRejectedEvent](t, ev)
		if r.Reason != contracts.ReasonOutOfStock || seen[r.OrderID] {
			t.Fatalf("rejection %+v", r)
		}
		seen[r.OrderID] = true
	}
	if len(seen) != orders {
		t.Fatalf("%d orders have an outcome", len(seen))
	}
	if q := h.quantity("sku-hot"); q != 0 {
		t.Fatalf("stock %d, want 0", q)
	}
	c, _ := h.JS.Consumer(t.Context(), contracts.StreamOrders, "inventory-reserve")
	info, _ := c.Info(t.Context())
	t.Logf("deliveries %d for %d orders", info.Delivered.Consumer, orders)
}
