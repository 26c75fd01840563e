package console

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/natsfn/natsfn/contracts"
)

// orderWatch is one order as the console shows it: the orders function's
// authoritative view, the saga events the console saw for it on NATS, and
// the stock of its products now.
type orderWatch struct {
	Order         contracts.OrderView `json:"order"`
	TraceID       string              `json:"trace_id,omitempty"`
	CorrelationID string              `json:"correlation_id,omitempty"`
	// Events are the events seen on NATS, in the order they came.
	Events []event `json:"events"`
	// Timeline merges the orders function's timeline with the events seen:
	// inventory.released, say, is in the second only.
	Timeline []step                 `json:"timeline"`
	Stock    []contracts.StockReply `json:"stock"`
	Problems []string               `json:"problems,omitempty"`
}

// step is one line of the merged timeline.
type step struct {
	Event string    `json:"event"`
	At    time.Time `json:"at"`
	// Status is the order's status after the step, when orders recorded it.
	Status contracts.OrderStatus `json:"status,omitempty"`
	Detail string                `json:"detail,omitempty"`
	Source string                `json:"source,omitempty"`
	SpanID string                `json:"span_id,omitempty"`
	// Seen: the console saw the event on NATS. Recorded: the order's
	// timeline (orders.get) has it.
	Seen     bool `json:"seen"`
	Recorded bool `json:"recorded"`
}

// Failed tells a step of the unhappy path, for the page to colour it.
func (s step) Failed() bool {
	switch s.Event {
	case contracts.SubjectInventoryRejected, contracts.SubjectPaymentsFailed, contracts.SubjectOrdersCancelled,
		contracts.SubjectInventoryReleased, contracts.SubjectPaymentsRefunded:
		return true
	}
	return false
}

// watch reads the order and the stock of its products.
func (c *Console) watch(ctx context.Context, id string) (orderWatch, error) {
	v, err := c.order(ctx, id)
	if err != nil {
		return orderWatch{}, err
	}
	w := orderWatch{Order: v, Events: c.hub.events(id)}
	if p, ok := c.hub.placedOrder(id); ok {
		w.TraceID, w.CorrelationID = p.traceID, p.correlationID
	}
	for _, ev := range w.Events {
		w.TraceID = cmp.Or(w.TraceID, ev.TraceID)
		w.CorrelationID = cmp.Or(w.CorrelationID, ev.CorrelationID)
	}
	w.Timeline = merge(v.Timeline, w.Events)
	w.Stock = make([]contracts.StockReply, len(v.Items))
	problems := make([]string, len(v.Items))
	var wg sync.WaitGroup
	for i, it := range v.Items {
		wg.Go(func() {
			s, err := c.stock(ctx, it.ProductID)
			if err != nil {
				problems[i] = "stock of " + it.ProductID + ": " + err.Error()
				s.ProductID = it.ProductID
				s.Quantity = -1
			}
			w.Stock[i] = s
		})
	}
	wg.Wait()
	for _, p := range problems {
		if p != "" {
			w.Problems = append(w.Problems, p)
		}
	}
	return w, nil
}

// merge lays the events seen beside the order's own timeline: an event the
// timeline records is one step, marked seen; one it does not is a step of
// its own at the time the console saw it.
func merge(timeline []contracts.TimelineEntry, events []event) []step {
	steps := make([]step, 0, len(timeline)+len(events))
	for _, e := range timeline {
		steps = append(steps, step{Event: e.Event, At: e.At, Status: e.Status, Detail: e.Detail, Recorded: true})
	}
	for _, ev := range events {
		i := slices.IndexFunc(steps, func(s step) bool { return s.Event == ev.Subject && !s.Seen })
		if i < 0 {
			steps = append(steps, step{Event: ev.Subject, At: ev.At})
			i = len(steps) - 1
		}
		s := &steps[i]
		s.Seen, s.Source, s.SpanID = true, ev.Source, ev.SpanID
		if s.Detail == "" || !s.Recorded {
			s.Detail = ev.Summary
		}
	}
	slices.SortStableFunc(steps, func(a, b step) int { return a.At.Compare(b.At) })
	return steps
}
