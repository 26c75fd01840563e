package inventory

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

func TestReserveAnnouncesPricesAndTakesStock(t *testing.T) {
	h := newHarness(t)
	h.start("inv-1", catalog(product("sku-1", 100, 1999), product("sku-2", 50, 4999)))

	h.created("o-1", "m-1", item("sku-1", 2), item("sku-2", 1))
	fntest.Eventually(t, 10*time.Second, "inventory.reserved", func() bool {
		return len(h.events(contracts.StreamInventory, contracts.SubjectInventoryReserved)) == 1
	})
	ev := h.events(contracts.StreamInventory, contracts.SubjectInventoryReserved)[0]
	got := decode[contracts.InventoryReservedEvent](t, ev)
	want := contracts.InventoryReservedEvent{OrderID: "o-1", TotalCents: 2*1999 + 4999, Items: []contracts.ReservedItem{
		{ProductID: "sku-1", Quantity: 2, UnitPriceCents: 1999},
		{ProductID: "sku-2", Quantity: 1, UnitPriceCents: 4999},
	}}
	if got.OrderID != want.OrderID || got.TotalCents != want.TotalCents || len(got.Items) != 2 ||
		got.Items[0] != want.Items[0] || got.Items[1] != want.Items[1] {
		t.Fatalf("reserved %+v, want %+v", got, want)
	}
	if id := ev.Header.Get(nats.MsgIdHdr); id != "inventory.reserved:o-1" {
		t.Errorf("Nats-Msg-Id %q", id)
	}
	if c := ev.Header.Get(runtime.HeaderCorrelationID); c != "corr-m-1" {
		t.Errorf("correlation id %q, want the triggering event's", c)
	}
	if q := h.quantity("sku-1"); q != 98 {
		t.Errorf("sku-1 stock %d, want 98", q)
	}
	if q := h.quantity("sku-2"); q != 49 {
		t.Errorf("sku-2 stock %d, want 49", q)
	}
	if r := h.reservation("o-1"); r == nil || r.State != stateReserved {
		t.Errorf("reservation %+v", r)
	}
}

func TestRejectLeavesStockUntouched(t *testing.T) {
	cases := []struct {
		name    string
		items   []contracts.OrderItem
		reason  contracts.Reason
		product string
	}{
		{"out of stock", []contracts.OrderItem{item("sku-3", 11)}, contracts.ReasonOutOfStock, "sku-3"},
		{"first item had stock", []contracts.OrderItem{item("sku-1", 5), item("sku-2", 1), item("sku-3", 11)}, contracts.ReasonOutOfStock, "sku-3"},
		{"unknown product", []contracts.OrderItem{item("sku-1", 1), item("sku-nope", 1)}, contracts.ReasonUnknownProduct, "sku-nope"},
		{"same product twice", []contracts.OrderItem{item("sku-3", 6), item("sku-3", 6)}, contracts.ReasonOutOfStock, "sku-3"},
	}
	h := newHarness(t)
	h.start("inv-1", catalog(product("sku-1", 100, 1999), product("sku-2", 50, 4999), product("sku-3", 10, 999)))
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := orderID(i)
			h.created(id, "m-"+id, tc.items...)
			var got contracts.InventoryRejectedEvent
			fntest.Eventually(t, 10*time.Second, "inventory.rejected", func() bool {
				for _, ev := range h.events(contracts.StreamInventory, contracts.SubjectInventoryRejected) {
					if got = decode[contracts.InventoryRejectedEvent](t, ev); got.OrderID == id {
						return true
					}
				}
				return false
			})
			if got.Reason != tc.reason || got.ProductID != tc.product {
				t.Fatalf("rejected %+v, want %s on %s", got, tc.reason, tc.product)
			}
			for p, want := range map[string]int{"sku-1": 100, "sku-2": 50, "sku-3": 10} {
				if q := h.quantity(p); q != want {
					t.Errorf("%s stock %d, want %d untouched", p, q, want)
				}
			}
			if r := h.reservation(id); r == nil || r.State != stateRejected {
				t.Errorf("reservation %+v", r)
			}
		})
	}
	if n := len(h.events(contracts.StreamInventory, contracts.SubjectInventoryReserved)); n != 0 {
		t.Errorf("%d inventory.reserved", n)
	}
}

// TestDuplicateOrderCreatedReservesOnce: the same order arrives twice
// (two Msg-Ids), and its reservation is redelivered after a crash between
// the decision and the emit; the stock is taken once and announced once.
func TestDuplicateOrderCreatedReservesOnce(t *testing.T) {
	h := newHarness(t)
	crashed := make(chan int, 10)
	cfg := catalog(product("sku-1", 100, 1999))
	cfg.hooks.at = func(point, id string) error {
		if point == pointCommitted && id == "o-crash" && len(crashed) == 0 {
			crashed <- 1
			return runtime.RetryAfter(10*time.Millisecond, runtime.ErrUnavailable)
		}
		return nil
	}
	h.start("inv-1", cfg)

	h.created("o-dup", "m-1", item("sku-1", 3))
	h.created("o-dup", "m-2", item("sku-1", 3))
	h.created("o-crash", "m-3", item("sku-1", 4))
	h.Settled(contracts.StreamOrders, "inventory-reserve")

	if len(crashed) != 1 {
		t.Fatalf("the crash hook fired %d times", len(crashed))
	}
	if q := h.quantity("sku-1"); q != 100-3-4 {
		t.Fatalf("stock %d, want %d", q, 100-3-4)
	}
	reserved := h.events(contracts.StreamInventory, contracts.SubjectInventoryReserved)
	if len(reserved) != 2 {
		t.Fatalf("%d inventory.reserved, want one per order", len(reserved))
	}
	c, _ := h.JS.Consumer(t.Context(), contracts.StreamOrders, "inventory-reserve")
	if info, err := c.Info(t.Context()); err != nil || info.Delivered.Consumer != 4 {
		t.Fatalf("consumer delivered %d times (%v), want 4: 3 events + 1 redelivery", info.Delivered.Consumer, err)
	}
}
