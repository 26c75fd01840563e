package e2e

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestJetStreamWritesPerOrder counts what one confirmed order of one line
// stores in JetStream: the messages of every stream (events, KV writes,
// tombstones) from the first request to the last projection, per order.
// It is the figure of issue 9.6 (runtime/README.md, "State"): 14 before
// inventory's reservation became one transaction (3 of them inventory's,
// in 3 round trips), 13 after (2 of them inventory's, in one atomic
// commit). The bound keeps it from growing back unnoticed.
func TestJetStreamWritesPerOrder(t *testing.T) {
	const orders, bound = 20, 13
	f := startFlow(t)
	f.setStock("sku-a", 1000, 1250)
	// One order first, so that every bucket and consumer exists.
	f.settle(f.place("warm", item("sku-a", 1)), 15*time.Second)
	before := f.quiet()
	for i := range orders {
		if v := f.settle(f.place(fmt.Sprint("c-", i), item("sku-a", 1)), 15*time.Second); v.Status != "confirmed" {
			t.Fatalf("order %s: %s", v.OrderID, v.Status)
		}
	}
	after := f.quiet()
	total := 0
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(after)) {
		if n := after[name] - before[name]; n > 0 {
			total += int(n)
			parts = append(parts, fmt.Sprintf("%s %.1f", name, float64(n)/orders))
		}
	}
	per := float64(total) / orders
	t.Logf("%.1f JetStream writes per order: %s", per, strings.Join(parts, ", "))
	if per > bound {
		t.Errorf("%.1f writes per order, more than %d", per, bound)
	}
}

// quiet waits until no stream has stored a message for 300 ms and returns
// each stream's last sequence.
func (f *flow) quiet() map[string]uint64 {
	f.t.Helper()
	ctx := context.Background()
	var last map[string]uint64
	var stable time.Time
	for ; ; time.Sleep(50 * time.Millisecond) {
		now := map[string]uint64{}
		names := f.js.StreamNames(ctx)
		for name := range names.Name() {
			st, err := f.js.Stream(ctx, name)
			if err != nil {
				f.t.Fatal(err)
			}
			now[name] = st.CachedInfo().State.LastSeq
		}
		if names.Err() != nil {
			f.t.Fatal(names.Err())
		}
		if !maps.Equal(now, last) {
			last, stable = now, time.Now()
			continue
		}
		if time.Since(stable) > 300*time.Millisecond {
			return now
		}
	}
}
