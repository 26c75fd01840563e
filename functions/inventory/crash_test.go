package inventory

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestCrashMidwayResumes crashes a two-line reservation at each point where
// the stock and the reservation record disagree, and at the release of a
// rejection; the redelivery resumes it and every unit is counted once.
func TestCrashMidwayResumes(t *testing.T) {
	cases := []struct {
		point string
		line  int
		items []contracts.OrderItem
		want  map[string]int
		subj  string
	}{
		{pointIntent, 0, []contracts.OrderItem{item("sku-a", 2), item("sku-b", 3)}, map[string]int{"sku-a": 8, "sku-b": 7}, contracts.SubjectInventoryReserved},
		{pointLanded, 0, []contracts.OrderItem{item("sku-a", 2), item("sku-b", 3)}, map[string]int{"sku-a": 8, "sku-b": 7}, contracts.SubjectInventoryReserved},
		{pointIntent, 1, []contracts.OrderItem{item("sku-a", 2), item("sku-b", 3)}, map[string]int{"sku-a": 8, "sku-b": 7}, contracts.SubjectInventoryReserved},
		{pointLanded, 1, []contracts.OrderItem{item("sku-a", 2), item("sku-b", 3)}, map[string]int{"sku-a": 8, "sku-b": 7}, contracts.SubjectInventoryReserved},
		// Line 1 is out of stock: line 0's units go back, and the crash
		// comes while putting them back (the second write to line 0).
		{pointLanded, 0, []contracts.OrderItem{item("sku-a", 2), item("sku-b", 30)}, map[string]int{"sku-a": 10, "sku-b": 10}, contracts.SubjectInventoryRejected},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("%s-line-%d-%s", tc.point, tc.line, tc.subj), func(t *testing.T) {
			h := newHarness(t)
			var mu sync.Mutex
			crashes, seen := 0, 0
			wantSeen := 1
			if tc.subj == contracts.SubjectInventoryRejected {
				wantSeen = 2 // crash on the give-back, not the take
			}
			cfg := catalog(product("sku-a", 10, 100), product("sku-b", 10, 200))
			cfg.hooks.lease = 50 * time.Millisecond
			cfg.hooks.at = func(point, _ string, line int) error {
				mu.Lock()
				defer mu.Unlock()
				if point != tc.point || line != tc.line || crashes > 0 {
					return nil
				}
				if seen++; seen == wantSeen {
					crashes++
					return runtime.RetryAfter(10*time.Millisecond, fmt.Errorf("crash at %s: %w", point, runtime.ErrUnavailable))
				}
				return nil
			}
			h.start("inv-1", cfg)
			h.created("o-1", "m-1", tc.items...)
			h.Settled(contracts.StreamOrders, "inventory-reserve")
			mu.Lock()
			if crashes != 1 {
				t.Fatalf("%d crashes", crashes)
			}
			mu.Unlock()
			for p, want := range tc.want {
				if q := h.quantity(p); q != want {
					t.Errorf("%s stock %d, want %d", p, q, want)
				}
			}
			if n := len(h.events(contracts.StreamInventory, tc.subj)); n != 1 {
				t.Errorf("%d %s", n, tc.subj)
			}
			if r := h.reservation("o-1"); r == nil || r.Pending != nil || r.State.inProgress() {
				t.Errorf("reservation %+v", r)
			}
		})
	}
}

// TestFenceStopsAStaleWorker: a worker that announced a take and stalled
// cannot land it once a successor settled the intent.
func TestFenceStopsAStaleWorker(t *testing.T) {
	h := newHarness(t)
	stall := make(chan struct{})
	resumed := make(chan struct{})
	var once sync.Once
	cfg := catalog(product("sku-a", 10, 100))
	cfg.hooks.lease = 50 * time.Millisecond
	cfg.hooks.at = func(point, _ string, _ int) error {
		if point != pointIntent {
			return nil
		}
		first := false
		once.Do(func() { first = true })
		if first {
			<-stall // the first worker stalls past its lease, then tries its CAS
			close(resumed)
		}
		return nil
	}
	h.start("inv-1", cfg)
	// Two deliveries of the same order: the second finds the first's
	// intent with an expired lease, fences it, and reserves.
	h.created("o-1", "m-1", item("sku-a", 4))
	fntest.Eventually(t, 5*time.Second, "the first worker's intent", func() bool {
		r := h.reservation("o-1")
		return r != nil && r.Pending != nil
	})
	h.created("o-1", "m-2", item("sku-a", 4))
	fntest.Eventually(t, 10*time.Second, "inventory.reserved", func() bool {
		return len(h.events(contracts.StreamInventory, contracts.SubjectInventoryReserved)) == 1
	})
	close(stall)
	<-resumed
	h.Settled(contracts.StreamOrders, "inventory-reserve")
	if q := h.quantity("sku-a"); q != 6 {
		t.Fatalf("stock %d, want 6: the stale worker's write must not land", q)
	}
	if n := len(h.events(contracts.StreamInventory, contracts.SubjectInventoryReserved)); n != 1 {
		t.Fatalf("%d inventory.reserved", n)
	}
	if ops := h.stockOps("sku-a"); !slices.Contains(ops, "fence:take:o-1:0") {
		t.Fatalf("stock writes %v: want the successor's fence", ops)
	}
}

// TestForgottenWriteIsRedone: when the product's history no longer holds
// the write after an intent, the take is done again (units may be lost,
// never oversold).
func TestForgottenWriteIsRedone(t *testing.T) {
	h := newHarness(t)
	release := make(chan struct{})
	var once sync.Once
	cfg := catalog(product("sku-a", 10, 100))
	cfg.hooks.lease = 50 * time.Millisecond
	cfg.hooks.at = func(point, _ string, _ int) error {
		crash := false
		if point == pointIntent {
			once.Do(func() { crash = true })
		}
		if !crash {
			return nil
		}
		<-release
		return runtime.RetryAfter(10*time.Millisecond, runtime.ErrUnavailable)
	}
	var logs syncBuffer
	rc := h.Server.Config("inv-1")
	rc.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	fntest.RunConfig(t, rc, New(cfg))
	h.created("o-1", "m-1", item("sku-a", 4))
	fntest.Eventually(t, 5*time.Second, "the intent", func() bool {
		r := h.reservation("o-1")
		return r != nil && r.Pending != nil
	})
	for i := range stockHistory + 5 {
		if _, code := h.request(contracts.SubjectInventoryStockSet, product("sku-a", 20+i, 100)); code != "" {
			t.Fatalf("stock.set: %s", code)
		}
	}
	close(release)
	h.Settled(contracts.StreamOrders, "inventory-reserve")
	if q, want := h.quantity("sku-a"), 20+stockHistory+4-4; q != want {
		t.Fatalf("stock %d, want %d", q, want)
	}
	if !strings.Contains(logs.String(), "cannot tell whether a stock write landed") {
		t.Fatalf("the forgotten write was not noticed:\n%s", logs.String())
	}
}
