package containers

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/natsfn/natsfn/contracts"
)

// settleAll waits until every order the `orders` bucket holds is final
// and checks that every acknowledged order is among them: an order whose
// create was answered is never lost.
func (f *flow) settleAll(acked []string, within time.Duration) map[string]contracts.OrderView {
	f.t.Helper()
	// An acknowledged order is in the ORDERS stream; its view is stored by
	// orders.create, or soon after by the projection of orders.created
	// when that write failed (functions/orders). A listing is one moment,
	// and on a replicated bucket its consumer may sit on a replica a write
	// behind: list again until every acknowledged order is there.
	deadline := time.Now().Add(within)
	known := map[string]bool{}
	for {
		for _, id := range f.orderIDs() {
			known[id] = true
		}
		var lost []string
		for _, id := range acked {
			if !known[id] {
				lost = append(lost, id)
			}
		}
		if len(lost) == 0 {
			break
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("%d acknowledged orders are not in the orders bucket after %s: %v", len(lost), within, lost)
		}
		f.t.Logf("%d acknowledged orders not listed yet; listing again", len(lost))
		time.Sleep(time.Second)
	}
	ids := make([]string, 0, len(known))
	for id := range known {
		ids = append(ids, id)
	}
	return f.settle(within, ids...)
}

// audit checks the books once every order is final and the flow is idle:
// the stock taken is exactly what confirmed orders hold (initial − left ==
// units confirmed), every confirmed order was charged once and no other
// order was charged at all.
func (f *flow) audit(sku string, initial int, views map[string]contracts.OrderView) {
	f.t.Helper()
	f.waitIdle(60 * time.Second)
	confirmed := 0
	for _, v := range views {
		if v.Status != contracts.StatusConfirmed {
			continue
		}
		for _, it := range v.Items {
			if it.ProductID == sku {
				confirmed += it.Quantity
			}
		}
	}
	left := f.stock(sku)
	if initial-left != confirmed {
		f.t.Errorf("stock not conserved: %d taken from %s (initial %d, left %d), confirmed orders hold %d",
			initial-left, sku, initial, left, confirmed)
	}
	charges := f.charges()
	var wrong []string
	for id, v := range views {
		want := 0
		if v.Status == contracts.StatusConfirmed {
			want = 1
		}
		if charges[id] != want {
			wrong = append(wrong, fmt.Sprintf("%s (%s/%s) charged %d times", id, v.Status, v.Reason, charges[id]))
		}
	}
	for id, n := range charges {
		if _, ok := views[id]; !ok {
			wrong = append(wrong, fmt.Sprintf("unknown order %s charged %d times", id, n))
		}
	}
	if len(wrong) > 0 {
		f.t.Errorf("%d orders charged wrongly:\n  %s", len(wrong), strings.Join(wrong, "\n  "))
	}
}

// outcomes counts the orders by status/reason, for logs and assertions.
func outcomes(views map[string]contracts.OrderView) map[string]int {
	out := map[string]int{}
	for _, v := range views {
		k := string(v.Status)
		if v.Reason != "" {
			k += "/" + string(v.Reason)
		}
		out[k]++
	}
	return out
}

// waitIdle waits until no durable consumer of the flow's streams has
// messages pending or unacknowledged, three checks in a row, so releases
// and projections that follow a final status are done too.
func (f *flow) waitIdle(within time.Duration) {
	f.t.Helper()
	streak := 0
	waitFor(f.t, within, 200*time.Millisecond, "flow idle", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		for _, stream := range []string{contracts.StreamOrders, contracts.StreamInventory, contracts.StreamPayments} {
			st, err := f.js.Stream(ctx, stream)
			if err != nil {
				streak = 0
				return err
			}
			for info := range st.ListConsumers(ctx).Info() {
				if info.NumPending > 0 || info.NumAckPending > 0 {
					streak = 0
					return fmt.Errorf("%s: %d pending, %d unacked", info.Name, info.NumPending, info.NumAckPending)
				}
			}
		}
		if streak++; streak < 3 {
			return fmt.Errorf("idle %d time(s) in a row", streak)
		}
		return nil
	})
}

// busy names the durable consumers of the flow's streams with work left.
func (f *flow) busy() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []string
	for _, stream := range []string{contracts.StreamOrders, contracts.StreamInventory, contracts.StreamPayments} {
		st, err := f.js.Stream(ctx, stream)
		if err != nil {
			out = append(out, stream+": "+err.Error())
			continue
		}
		for info := range st.ListConsumers(ctx).Info() {
			if info.NumPending > 0 || info.NumAckPending > 0 || info.NumRedelivered > 0 {
				out = append(out, fmt.Sprintf("%s: %d pending, %d unacked, %d redelivered",
					info.Name, info.NumPending, info.NumAckPending, info.NumRedelivered))
			}
		}
	}
	if len(out) == 0 {
		return "none has work left"
	}
	return strings.Join(out, "; ")
}
