package orders

import (
	"context"
	"fmt"
	"time"

	// For the name of the Nats-Msg-Id header (nats.MsgIdHdr), which the
	// runtime does not repeat.
	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// eventOptions tune a projection consumer. A step is a few KV operations
// and at most one publish, so AckWait is short and a crashed instance's
// messages come back soon. Ten deliveries over about two and a half minutes
// ride out a KV leader election and the rare event that overtakes the order
// it is about (see changeOrder); past that the event is dead-lettered for a
// human.
func eventOptions(description string) []runtime.EventOption {
	// Every projection handler finishes whatever announcement an order
	// owes (see changeOrder), so each may emit either event.
	return []runtime.EventOption{
		runtime.Emits(contracts.OrderConfirmed, contracts.OrderCancelled),
		runtime.MaxDeliver(10),
		runtime.BackOff(500*time.Millisecond, time.Second, 2*time.Second, 5*time.Second, 10*time.Second, 30*time.Second),
		runtime.AckWait(15 * time.Second),
		runtime.Description(description),
	}
}

// project registers the event handlers that move orders through the saga.
// Their durable consumers are orders-<handler>.
func (o *orders) project(svc *runtime.Service) {
	// The stream is the source of truth: an announced order is stored
	// however long the bucket is out (MaxDeliver(-1)); only a stray event
	// (a permanent error) is dead-lettered.
	runtime.OnEvent(svc, "order-created", contracts.OrderCreated, o.onCreated,
		runtime.MaxDeliver(-1),
		runtime.BackOff(500*time.Millisecond, time.Second, 2*time.Second, 5*time.Second, 10*time.Second, 30*time.Second),
		runtime.AckWait(15*time.Second),
		runtime.Description("stores an announced order whose create stopped before storing it"))
	// The handlers of events with a major 2 read either major (Accepts).
	runtime.OnEvent(svc, "inventory-reserved", contracts.InventoryReserved, o.onReserved,
		append(eventOptions("pending → reserved, with unit prices and total"), runtime.Accepts(contracts.InventoryReservedV2))...)
	runtime.OnEvent(svc, "inventory-rejected", contracts.InventoryRejected, o.onRejected,
		eventOptions("pending → cancelled (out_of_stock or unknown_product)")...)
	runtime.OnEvent(svc, "payment-completed", contracts.PaymentCompleted, o.onCompleted,
		append(eventOptions("→ confirmed; emits orders.confirmed"), runtime.Accepts(contracts.PaymentCompletedV2))...)
	runtime.OnEvent(svc, "payment-failed", contracts.PaymentFailed, o.onFailed,
		append(eventOptions("→ cancelled (payment_declined); emits orders.cancelled"), runtime.Accepts(contracts.PaymentFailedV2))...)
	runtime.OnEvent(svc, "payment-refunded", contracts.PaymentRefunded, o.onRefunded,
		append(eventOptions("a cancelled order's payment went back: recorded in its timeline"), runtime.Accepts(contracts.PaymentRefundedV2))...)
}

// onCreated stores the order an orders.created announces, unless the
// create path stored it already (the usual case: then it does nothing).
// The stream is the source of truth: orders.create publishes before it
// stores, so an order whose write was lost (a crash, a KV election that
// outlasted the request) is stored here.
//
// Only an event orders.create published is an order: it carries the
// function's ce-source and the Nats-Msg-Id "orders.created:<order id>".
// Any other (a stray or hand-made publish) is dead-lettered and no order is
// stored, so payments, which charges only orders this function knows,
// takes no money for it and gives its stock back (see functions/payments).
func (o *orders) onCreated(ctx context.Context, ev contracts.OrderCreatedEvent) error {
	msg := runtime.MessageFrom(ctx)
	src, id := msg.HeaderValue("ce-source"), msg.HeaderValue(nats.MsgIdHdr)
	if src != svcName || id != contracts.SubjectOrdersCreated+":"+ev.OrderID {
		return runtime.Permanent(runtime.Errorf(runtime.ErrInvalid,
			"orders.created for order %s was not published by orders.create (ce-source %q, Nats-Msg-Id %q): no order stored",
			ev.OrderID, src, id))
	}
	if _, err := o.store.add(ctx, viewOf(ev)); err != nil {
		return err
	}
	return nil
}

// onReserved records the reservation: a pending order becomes reserved,
// with its unit prices and total. When the payment overtook the
// reservation, the confirmed order still gets its prices. A cancelled
// order stays as it is: its cancellation makes inventory release the stock.
func (o *orders) onReserved(ctx context.Context, ev contracts.InventoryReservedEvent) error {
	return o.changeOrder(ctx, ev.OrderID, func(v *contracts.OrderView) bool {
		if hasEntry(v, contracts.SubjectInventoryReserved) {
			return false
		}
		detail := ""
		switch v.Status {
		case contracts.StatusPending:
			v.Status = contracts.StatusReserved
		case contracts.StatusConfirmed:
			detail = "arrived after the payment"
		default:
			return false
		}
		price(v, ev)
		record(v, contracts.SubjectInventoryReserved, detail, o.now())
		return true
	})
}

// onRejected cancels a pending order that inventory could not reserve, with
// inventory's reason. Nothing was reserved or charged, so there is nothing
// to announce.
func (o *orders) onRejected(ctx context.Context, ev contracts.InventoryRejectedEvent) error {
	return o.changeOrder(ctx, ev.OrderID, func(v *contracts.OrderView) bool {
		if v.Status != contracts.StatusPending {
			return false
		}
		cancelWith(v, ev.Reason)
		record(v, contracts.SubjectInventoryRejected, "product "+ev.ProductID, o.now())
		return true
	})
}

// onCompleted confirms an open order, which then owes orders.confirmed. A
// payment for an order cancelled in the meantime changes nothing but the
// timeline: payments refunds it on orders.cancelled (payments.refunded).
func (o *orders) onCompleted(ctx context.Context, ev contracts.PaymentCompletedEvent) error {
	var late bool
	err := o.changeOrder(ctx, ev.OrderID, func(v *contracts.OrderView) bool {
		late = false
		switch {
		case open(v.Status):
			v.Status = contracts.StatusConfirmed
			v.PaymentID = ev.PaymentID
			if v.TotalCents == 0 {
				v.TotalCents = ev.AmountCents
			}
			record(v, contracts.SubjectPaymentsCompleted, "payment "+ev.PaymentID, o.now())
			return true
		case v.Status == contracts.StatusCancelled && !hasEntry(v, contracts.SubjectPaymentsCompleted):
			late = true
			record(v, contracts.SubjectPaymentsCompleted,
				fmt.Sprintf("payment %s of %d cents arrived after the cancellation: payments refunds it", ev.PaymentID, ev.AmountCents), o.now())
			return true
		}
		return false
	})
	if err == nil && late {
		o.logger.InfoContext(ctx, "payment completed for a cancelled order: payments refunds it",
			"order_id", ev.OrderID, "payment_id", ev.PaymentID, "amount_cents", ev.AmountCents)
	}
	return err
}

// onRefunded records in a cancelled order's timeline that its payment
// went back. It changes nothing else: the order was cancelled already.
func (o *orders) onRefunded(ctx context.Context, ev contracts.PaymentRefundedEvent) error {
	return o.changeOrder(ctx, ev.OrderID, func(v *contracts.OrderView) bool {
		if v.Status != contracts.StatusCancelled || hasEntry(v, contracts.SubjectPaymentsRefunded) {
			return false
		}
		record(v, contracts.SubjectPaymentsRefunded, fmt.Sprintf("payment %s of %d cents refunded", ev.PaymentID, ev.AmountCents), o.now())
		return true
	})
}

// onFailed cancels an open order whose payment was declined; it then owes
// orders.cancelled, on which inventory releases the stock.
func (o *orders) onFailed(ctx context.Context, ev contracts.PaymentFailedEvent) error {
	return o.changeOrder(ctx, ev.OrderID, func(v *contracts.OrderView) bool {
		if !open(v.Status) {
			return false
		}
		cancelWith(v, contracts.ReasonPaymentDeclined)
		record(v, contracts.SubjectPaymentsFailed, string(ev.Reason), o.now())
		return true
	})
}

// changeOrder applies an event to an order, then publishes whatever the
// order owes. The announcement runs whether or not this delivery changed
// anything, so a redelivery finishes what a crash interrupted.
//
// An unknown order is waited for rather than dead-lettered at once: the
// order is announced before it is stored (event first), so an event about
// it may overtake its write, or a lagging replica may not show it yet. The
// handler reads it again for a few seconds (updateKnown), then the message
// comes back with backoff; only if the order stays unknown for every
// delivery does it end in the dead letters.
func (o *orders) changeOrder(ctx context.Context, id string, change func(v *contracts.OrderView) bool) error {
	v, err := o.store.updateKnown(ctx, id, change)
	if err != nil {
		return err
	}
	_, err = o.announce(ctx, v)
	return err
}
