package orders

import (
	"time"

	"github.com/natsfn/natsfn/contracts"
)

// open reports whether an order can still be cancelled or confirmed.
func open(s contracts.OrderStatus) bool {
	return s == contracts.StatusPending || s == contracts.StatusReserved
}

// hasEntry reports whether the timeline records the event already: each
// event is recorded at most once, which is what makes a redelivery harmless.
func hasEntry(v *contracts.OrderView, event string) bool {
	for _, e := range v.Timeline {
		if e.Event == event {
			return true
		}
	}
	return false
}

// record appends a timeline entry with the order's current status and
// marks the view as changed at t.
func record(v *contracts.OrderView, event, detail string, t time.Time) {
	v.Timeline = append(v.Timeline, contracts.TimelineEntry{
		Event:  event,
		Status: v.Status,
		At:     t,
		Detail: detail,
	})
	v.UpdatedAt = t
}

// cancelWith moves an open order to cancelled for reason.
func cancelWith(v *contracts.OrderView, reason contracts.Reason) {
	v.Status = contracts.StatusCancelled
	v.Reason = reason
}

// price sets the reserved unit prices and the total.
func price(v *contracts.OrderView, ev contracts.InventoryReservedEvent) {
	prices := make(map[string]int64, len(ev.Items))
	for _, it := range ev.Items {
		prices[it.ProductID] = it.UnitPriceCents
	}
	for i := range v.Items {
		if p, ok := prices[v.Items[i].ProductID]; ok {
			v.Items[i].UnitPriceCents = &p
		}
	}
	v.TotalCents = ev.TotalCents
}

// viewOf is the pending order an orders.created announces. The create
// path and the projection of orders.created both store it, so whichever
// comes first stores the same view.
func viewOf(ev contracts.OrderCreatedEvent) contracts.OrderView {
	items := make([]contracts.OrderViewItem, len(ev.Items))
	for i, it := range ev.Items {
		items[i] = contracts.OrderViewItem{ProductID: it.ProductID, Quantity: it.Quantity}
	}
	t := ev.CreatedAt.UTC()
	v := contracts.OrderView{
		OrderID:    ev.OrderID,
		CustomerID: ev.CustomerID,
		Status:     contracts.StatusPending,
		Items:      items,
		CreatedAt:  t,
		Timeline:   []contracts.TimelineEntry{},
	}
	record(&v, contracts.SubjectOrdersCreated, "", t)
	return v
}
