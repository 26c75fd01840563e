package orders

import (
	"context"
	"fmt"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// owed returns the event an order still has to publish about itself, if
// any. The view is the outbox: a confirmed order owes orders.confirmed, an
// order cancelled for its payment or by its customer owes orders.cancelled
// (an inventory rejection owes nothing: nobody downstream holds anything
// for it), and the debt is paid once the timeline records the event.
func owed(v *contracts.OrderView) (runtime.Topic, any, bool) {
	switch {
	case v.Status == contracts.StatusConfirmed && !hasEntry(v, contracts.SubjectOrdersConfirmed):
		return contracts.OrderConfirmed, contracts.OrderConfirmedEvent{
			OrderID:    v.OrderID,
			PaymentID:  v.PaymentID,
			TotalCents: v.TotalCents,
		}, true
	case v.Status == contracts.StatusCancelled && !hasEntry(v, contracts.SubjectOrdersCancelled) &&
		(v.Reason == contracts.ReasonPaymentDeclined || v.Reason == contracts.ReasonCancelledByCustomer):
		return contracts.OrderCancelled, contracts.OrderCancelledEvent{OrderID: v.OrderID, Reason: v.Reason}, true
	}
	return nil, nil, false
}

// announce publishes what the order owes, then records it in the timeline.
// The Nats-Msg-Id is the event and the order id, so a publish repeated after
// a crash between the two steps is dropped by the stream's duplicate window;
// once recorded, the event is never published again, however late a
// duplicate of its cause arrives.
func (o *orders) announce(ctx context.Context, v contracts.OrderView) (contracts.OrderView, error) {
	topic, ev, ok := owed(&v)
	if !ok {
		return v, nil
	}
	subject := topic.Subject()
	if err := runtime.Emit(ctx, topic, ev, runtime.MsgID(subject+":"+v.OrderID)); err != nil {
		return v, fmt.Errorf("order %s: %w", v.OrderID, err)
	}
	detail := string(v.Reason)
	if v.Status == contracts.StatusConfirmed {
		detail = "payment " + v.PaymentID
	}
	// The order was just read or written: a lagging replica's "not found"
	// must not dead-letter the event (issue 8.4).
	return o.store.updateKnown(ctx, v.OrderID, func(v *contracts.OrderView) bool {
		if hasEntry(v, subject) {
			return false
		}
		record(v, subject, detail, o.now())
		return true
	})
}
