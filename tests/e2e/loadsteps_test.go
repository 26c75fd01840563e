package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/contracts"
)

// An order's way through the flow, as the load sees it: the caller sends
// orders.create, then JetStream stores four events one after the other.
// Each step is the time from one of these instants to the next: the first
// is the load generator's clock, the others the time the stream stored the
// event (its timestamp), all one clock, since the server runs in the
// process. A step's time is the work of the function that ends it, its
// JetStream writes and its waits for a worker or for the CPU. What is
// left of an order's latency, from orders.confirmed stored to the caller
// seeing it, is not a step: the server hands a message to its core
// subscribers and to the stream apart, and the caller often sees the
// event before the stream's timestamp.
var loadSteps = []loadStep{
	{Name: "orders.create sent → orders.created stored", Who: "orders: the request, its idempotency claim, the event"},
	{Name: "orders.created → inventory.reserved", Who: "inventory: the reservation, one transaction on its bucket, then the event"},
	{Name: "inventory.reserved → payments.completed", Who: "payments: the order read, the charge in its ledger and the gateway's, the event"},
	{Name: "payments.completed → orders.confirmed", Who: "orders: the event (the order's state is written after it)"},
}

// loadStep names a step and what runs in it.
type loadStep struct{ Name, Who string }

// stepEvents are the events between the steps, in order: each is the
// first of its subjects stored for the order (a dual-publishing phase
// emits a family's two versions; the first counts).
var stepEvents = []struct {
	stream   string
	subjects []string
}{
	{contracts.StreamOrders, []string{contracts.SubjectOrdersCreated}},
	{contracts.StreamInventory, []string{contracts.SubjectInventoryReserved, contracts.SubjectInventoryReservedV2}},
	{contracts.StreamPayments, []string{contracts.SubjectPaymentsCompleted, contracts.SubjectPaymentsCompletedV2}},
	{contracts.StreamOrders, []string{contracts.SubjectOrdersConfirmed}},
}

// stepLatency is one step's percentiles over a run's orders.
type stepLatency struct {
	loadStep
	// Orders is how many orders the step was measured for: every order
	// of the run, unless an event was missing.
	Orders        int
	P50, P90, P99 time.Duration
}

// orderTimeline is one order's instants: sent, then each of stepEvents
// stored (zero when missing).
type orderTimeline []time.Time

// measureSteps reads when each event of the samples' orders was stored and
// returns every step's percentiles. start is the load's clock: a sample's
// Sent is a duration since it.
func measureSteps(ctx context.Context, js jetstream.JetStream, start time.Time, samples []orderSample) ([]stepLatency, error) {
	timelines, err := orderTimelines(ctx, js, start, samples)
	if err != nil {
		return nil, err
	}
	return stepLatencies(timelines), nil
}

// orderTimelines is each sample's orderTimeline, by order id.
func orderTimelines(ctx context.Context, js jetstream.JetStream, start time.Time, samples []orderSample) (map[string]orderTimeline, error) {
	out := make(map[string]orderTimeline, len(samples))
	for _, s := range samples {
		t := make(orderTimeline, len(stepEvents)+1)
		t[0] = start.Add(s.Sent)
		out[s.ID] = t
	}
	for i, ev := range stepEvents {
		stored, err := storedAt(ctx, js, ev.stream, ev.subjects)
		if err != nil {
			return nil, err
		}
		for id, t := range out {
			t[i+1] = stored[id]
		}
	}
	return out, nil
}

// storedAt reads a stream's events on subjects with an ordered consumer
// and returns when the first of each order's was stored.
func storedAt(ctx context.Context, js jetstream.JetStream, stream string, subjects []string) (map[string]time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, err)
	}
	var left uint64
	for _, subject := range subjects {
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(subject))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", stream, err)
		}
		left += info.State.Subjects[subject]
	}
	cons, err := st.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: subjects})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", stream, err)
	}
	out := make(map[string]time.Time, left)
	for left > 0 {
		batch, err := cons.Fetch(int(min(left, 1000)), jetstream.FetchContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", stream, err)
		}
		for m := range batch.Messages() {
			md, err := m.Metadata()
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", stream, err)
			}
			var ev struct {
				OrderID string `json:"order_id"`
			}
			if err := json.Unmarshal(m.Data(), &ev); err != nil {
				return nil, fmt.Errorf("read %s #%d: %w", stream, md.Sequence.Stream, err)
			}
			if at, seen := out[ev.OrderID]; !seen || md.Timestamp.Before(at) {
				out[ev.OrderID] = md.Timestamp
			}
			left = md.NumPending
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("read %s: %w", stream, err)
		}
	}
	return out, nil
}

// stepLatencies is every step's percentiles over the timelines; a step
// counts the orders whose both instants are known.
func stepLatencies(timelines map[string]orderTimeline) []stepLatency {
	out := make([]stepLatency, len(loadSteps))
	for i, st := range loadSteps {
		var d []time.Duration
		for _, t := range timelines {
			if !t[i].IsZero() && !t[i+1].IsZero() {
				d = append(d, t[i+1].Sub(t[i]))
			}
		}
		slices.Sort(d)
		out[i] = stepLatency{loadStep: st, Orders: len(d), P50: percentile(d, 0.50), P90: percentile(d, 0.90), P99: percentile(d, 0.99)}
	}
	return out
}

func TestStepLatencies(t *testing.T) {
	at := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	timeline := func(steps ...time.Duration) orderTimeline {
		out := orderTimeline{at}
		for _, d := range steps {
			out = append(out, out[len(out)-1].Add(d))
		}
		return out
	}
	timelines := map[string]orderTimeline{}
	// 100 orders: step k takes k ms, but the reservation of every tenth
	// order takes 10 ms more.
	for i := range 100 {
		res := 2 * time.Millisecond
		if i%10 == 9 {
			res += 10 * time.Millisecond
		}
		timelines[fmt.Sprint(i)] = timeline(time.Millisecond, res, 3*time.Millisecond, 4*time.Millisecond)
	}
	// One order whose payments.completed is missing: two steps lack it.
	timelines["gap"] = orderTimeline{at, at.Add(time.Millisecond), at.Add(3 * time.Millisecond), {}, at.Add(10 * time.Millisecond)}
	got := stepLatencies(timelines)
	if len(got) != len(loadSteps) {
		t.Fatalf("%d steps, want %d", len(got), len(loadSteps))
	}
	want := []struct {
		orders        int
		p50, p90, p99 time.Duration
	}{
		{101, time.Millisecond, time.Millisecond, time.Millisecond},
		{101, 2 * time.Millisecond, 2 * time.Millisecond, 12 * time.Millisecond},
		{100, 3 * time.Millisecond, 3 * time.Millisecond, 3 * time.Millisecond},
		{100, 4 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond},
	}
	for i, w := range want {
		g := got[i]
		if g.Name != loadSteps[i].Name || g.Orders != w.orders || g.P50 != w.p50 || g.P90 != w.p90 || g.P99 != w.p99 {
			t.Errorf("step %d: %s, %d orders, p50 %v p90 %v p99 %v; want %s, %d orders, p50 %v p90 %v p99 %v",
				i, g.Name, g.Orders, g.P50, g.P90, g.P99, loadSteps[i].Name, w.orders, w.p50, w.p90, w.p99)
		}
	}
}

// TestOrderSteps places orders on the real flow and reads their steps
// back: every order has every instant, in the order the flow makes them,
// and every step is measured for every order.
func TestOrderSteps(t *testing.T) {
	f := startFlow(t)
	f.stockLoadSKUs(1000)
	samples, start, err := placeOrders(f, 4, 0, 30, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	timelines, err := orderTimelines(ctx, f.js, start, samples)
	if err != nil {
		t.Fatal(err)
	}
	if len(timelines) != len(samples) {
		t.Fatalf("%d timelines for %d orders", len(timelines), len(samples))
	}
	for id, tl := range timelines {
		for i := range tl {
			if tl[i].IsZero() {
				t.Fatalf("order %s: instant %d unknown: %v", id, i, tl)
			}
			if i > 0 && tl[i].Before(tl[i-1]) {
				t.Fatalf("order %s: %q ends %v before it starts", id, loadSteps[i-1].Name, tl[i-1].Sub(tl[i]))
			}
		}
	}
	steps, err := measureSteps(ctx, f.js, start, samples)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range steps {
		if st.Orders != len(samples) || st.P50 <= 0 || st.P99 < st.P90 || st.P90 < st.P50 {
			t.Errorf("%s: %d orders, p50 %v, p90 %v, p99 %v; want all %d, and 0 < p50 <= p90 <= p99", st.Name, st.Orders, st.P50, st.P90, st.P99, len(samples))
		}
	}
}
