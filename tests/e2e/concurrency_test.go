package e2e

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/contracts"
)

// TestConcurrentOrdersNeverOversell: 200 orders at once for a stock of 50.
func TestConcurrentOrdersNeverOversell(t *testing.T) {
	f := startFlow(t)
	f.setStock("sku-hot", 50, 500)
	ids := make([]string, 200)
	errs := make([]error, len(ids))
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// As a caller would: 200 at once may wait past their deadline
			// in the queue on a busy machine (a 504, nothing done), and are
			// sent again with the same Idempotency-Key.
			ids[i], errs[i] = f.placeRetrying(fmt.Sprintf("key-%d", i), fmt.Sprintf("c-%d", i), item("sku-hot", 1))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	outcome := map[string]int{}
	for _, id := range ids {
		v := f.settle(id, 60*time.Second)
		outcome[string(v.Status)+"/"+string(v.Reason)]++
	}
	if outcome["confirmed/"] != 50 || outcome["cancelled/out_of_stock"] != 150 || len(outcome) != 2 {
		t.Fatalf("outcomes %v", outcome)
	}
	if s := f.stock("sku-hot"); s != 0 {
		t.Fatalf("final stock %d", s)
	}
	charged := 0
	for _, n := range f.charges() {
		if n != 1 {
			t.Fatalf("an order was charged %d times", n)
		}
		charged++
	}
	if charged != 50 {
		t.Fatalf("%d charges", charged)
	}
}

// TestForcedRedeliveryChangesNothing: every event of finished orders (one
// confirmed, one declined, one out of stock, one refunded) is delivered
// again (republished under a new Msg-Id, so the stream keeps the copy).
// Nothing is reserved, released, charged or refunded a second time.
func TestForcedRedeliveryChangesNothing(t *testing.T) {
	f := startFlow(t)
	f.setStock("sku-a", 20, 100)
	ok := f.place("c-ok", item("sku-a", 2))
	f.settle(ok, 15*time.Second)
	f.gateway(contracts.GatewayDecline)
	declined := f.place("c-declined", item("sku-a", 3))
	f.settle(declined, 15*time.Second)
	f.gateway(contracts.GatewayOK)
	short := f.place("c-short", item("sku-a", 100))
	f.settle(short, 15*time.Second)
	refunded := f.placeAndCancelWhileCharging("c-refunded", item("sku-a", 4))
	f.waitIdle()

	stockBefore, chargesBefore, refundsBefore := f.stock("sku-a"), f.charges(), f.refunds()
	views := map[string]contracts.OrderView{}
	for _, id := range []string{ok, declined, short, refunded} {
		views[id] = f.order(id)
	}

	ctx := context.Background()
	n := 0
	for _, stream := range []string{contracts.StreamOrders, contracts.StreamInventory, contracts.StreamPayments} {
		cons, err := f.js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		pending := int(cons.CachedInfo().NumPending)
		batch, err := cons.Fetch(pending, jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			hdr := nats.Header{}
			for k, v := range m.Headers() {
				hdr[k] = v
			}
			hdr.Set(nats.MsgIdHdr, fmt.Sprintf("redelivery-%s-%d", stream, n))
			if _, err := f.js.PublishMsg(ctx, &nats.Msg{Subject: m.Subject(), Header: hdr, Data: m.Data()}); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	if n < 14 {
		t.Fatalf("only %d events redelivered", n)
	}
	f.waitIdle()
	if s := f.stock("sku-a"); s != stockBefore || s != 18 {
		t.Fatalf("stock %d, was %d", s, stockBefore)
	}
	after := f.charges()
	if len(after) != len(chargesBefore) || after[ok] != 1 || after[declined] != 0 || after[refunded] != 1 {
		t.Fatalf("charges %v, were %v", after, chargesBefore)
	}
	if r := f.refunds(); len(r) != 1 || r[refunded] != 1 || len(refundsBefore) != 1 {
		t.Fatalf("refunds %v, were %v", r, refundsBefore)
	}
	for id, before := range views {
		if v := f.order(id); v.Status != before.Status || v.Reason != before.Reason || len(v.Timeline) != len(before.Timeline) {
			t.Fatalf("order %s went from %s/%s (%d timeline entries) to %s/%s (%d)", id, before.Status, before.Reason,
				len(before.Timeline), v.Status, v.Reason, len(v.Timeline))
		}
	}
}

// waitIdle waits until every function's durable consumer of the flow's
// streams has nothing pending or unacked, three checks in a row.
func (f *flow) waitIdle() {
	f.t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	streak := 0
	for streak < 3 {
		if time.Now().After(deadline) {
			f.t.Fatalf("the flow never went idle: %s", f.busy())
		}
		time.Sleep(100 * time.Millisecond)
		idle := true
		for _, stream := range []string{contracts.StreamOrders, contracts.StreamInventory, contracts.StreamPayments} {
			st, err := f.js.Stream(ctx, stream)
			if err != nil {
				f.t.Fatal(err)
			}
			for info := range st.ListConsumers(ctx).Info() {
				if info.Config.Durable != "" && (info.NumPending > 0 || info.NumAckPending > 0) {
					idle = false
				}
			}
		}
		if idle {
			streak++
		} else {
			streak = 0
		}
	}
}

// busy names the consumers with work left.
func (f *flow) busy() string {
	ctx := context.Background()
	out := ""
	for _, stream := range []string{contracts.StreamOrders, contracts.StreamInventory, contracts.StreamPayments} {
		st, err := f.js.Stream(ctx, stream)
		if err != nil {
			return err.Error()
		}
		for info := range st.ListConsumers(ctx).Info() {
			if info.Config.Durable != "" && (info.NumPending > 0 || info.NumAckPending > 0) {
				out += fmt.Sprintf("%s: %d pending, %d unacked, %d redelivered; ", info.Name, info.NumPending, info.NumAckPending, info.NumRedelivered)
			}
		}
	}
	return out
}
