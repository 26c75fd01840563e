package inventory

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// TestCrashAtEveryStep crashes a reservation, a rejection and a release
// once at each step of their path: after the transaction staged its
// writes, after it committed, and after the event was emitted. At the
// crash either nothing of the transaction is visible or all of it is; the
// redelivery finishes the work, every unit is counted once and the outcome
// is announced once.
func TestCrashAtEveryStep(t *testing.T) {
	two := []contracts.OrderItem{item("sku-a", 2), item("sku-b", 3)}
	cases := []struct {
		name    string
		items   []contracts.OrderItem
		release bool // crash the release on payments.failed, not the reservation
		subject string
		want    map[string]int // stock at the end
		// atCommit is the stock once the crashing transaction committed.
		atCommit map[string]int
	}{
		{"reserve", two, false, contracts.SubjectInventoryReserved, map[string]int{"sku-a": 8, "sku-b": 7}, map[string]int{"sku-a": 8, "sku-b": 7}},
		{"reject", []contracts.OrderItem{item("sku-a", 2), item("sku-b", 30)}, false, contracts.SubjectInventoryRejected, map[string]int{"sku-a": 10, "sku-b": 10}, map[string]int{"sku-a": 10, "sku-b": 10}},
		{"release", two, true, contracts.SubjectInventoryReleased, map[string]int{"sku-a": 10, "sku-b": 10}, map[string]int{"sku-a": 10, "sku-b": 10}},
	}
	for _, tc := range cases {
		for _, point := range []string{pointStaged, pointCommitted, pointEmitted} {
			t.Run(tc.name+"/"+point, func(t *testing.T) {
				h := newHarness(t)
				var mu sync.Mutex
				armed, crashes := !tc.release, 0
				var seen map[string]int
				var seenState state
				cfg := catalog(product("sku-a", 10, 100), product("sku-b", 10, 200))
				cfg.hooks.at = func(p, _ string) error {
					mu.Lock()
					defer mu.Unlock()
					if p != point || !armed || crashes > 0 {
						return nil
					}
					crashes++
					seen, seenState = h.stored("sku-a", "sku-b"), h.reservationState("o-1")
					return runtime.RetryAfter(10*time.Millisecond, fmt.Errorf("crash at %s: %w", p, runtime.ErrUnavailable))
				}
				h.start("inv-1", cfg)
				h.created("o-1", "m-1", tc.items...)
				h.Settled(contracts.StreamOrders, "inventory-reserve")
				if tc.release {
					mu.Lock()
					armed = true
					mu.Unlock()
					h.Publish(contracts.SubjectPaymentsFailed, "f-1", contracts.PaymentFailedEvent{OrderID: "o-1", Reason: contracts.FailureDeclined})
					h.Settled(contracts.StreamPayments, "inventory-release-on-payment-failed")
				}
				mu.Lock()
				defer mu.Unlock()
				if crashes != 1 {
					t.Fatalf("%d crashes", crashes)
				}
				// At the crash: before the commit the stock and the record
				// are as they were; after it, both are as the commit left
				// them.
				before := map[string]int{"sku-a": 10, "sku-b": 10}
				wantState := state("")
				if tc.release {
					before = map[string]int{"sku-a": 8, "sku-b": 7}
					wantState = stateReserved
				}
				if point != pointStaged {
					before = tc.atCommit
					wantState = map[string]state{"reserve": stateReserved, "reject": stateRejected, "release": stateReleased}[tc.name]
				}
				if fmt.Sprint(seen) != fmt.Sprint(before) || seenState != wantState {
					t.Errorf("at the crash: stock %v and reservation %q; want %v and %q", seen, seenState, before, wantState)
				}
				for p, want := range tc.want {
					if q := h.quantity(p); q != want {
						t.Errorf("%s stock %d, want %d", p, q, want)
					}
				}
				if n := len(h.events(contracts.StreamInventory, tc.subject)); n != 1 {
					t.Errorf("%d %s, want 1", n, tc.subject)
				}
			})
		}
	}
}

// stored reads the quantity of products straight from the bucket.
func (h *harness) stored(products ...string) map[string]int {
	h.T.Helper()
	kv, err := h.JS.KeyValue(context.Background(), contracts.BucketStock)
	if err != nil {
		h.T.Fatal(err)
	}
	out := map[string]int{}
	for _, p := range products {
		e, err := kv.Get(context.Background(), p)
		if err != nil {
			h.T.Fatal(err)
		}
		var v entry
		if err := json.Unmarshal(e.Value(), &v); err != nil || v.Stock == nil {
			h.T.Fatalf("%s: %s", p, e.Value())
		}
		out[p] = v.Stock.Quantity
	}
	return out
}

// reservationState is the state of an order's reservation, "" when it has
// none.
func (h *harness) reservationState(orderID string) state {
	if r := h.reservation(orderID); r != nil {
		return r.State
	}
	return ""
}
