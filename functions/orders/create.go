package orders

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// create serves orders.create. The runtime has validated the request
// against its schema (400) and its size (413) already.
//
// The steps are ordered so that a failure leaves nothing behind, or only
// what a retry resumes: the products are checked before anything is
// written (404); the Idempotency-Key claim names the order id up front, so
// a retry after a crash anywhere later finishes the same order; the order
// is created with KV Create, so two racing retries store it once; and
// orders.created carries the Nats-Msg-Id "orders.created:<id>", so a
// repeated publish is dropped by the stream.
func (o *orders) create(ctx context.Context, req contracts.CreateOrderRequest) (contracts.CreateOrderReply, error) {
	if err := o.checkProducts(ctx, req.Items); err != nil {
		return contracts.CreateOrderReply{}, err
	}
	id := uuid.NewString()
	msg := runtime.MessageFrom(ctx)
	if key := msg.HeaderValue(runtime.HeaderIdempotencyKey); key != "" {
		claimed, err := o.claimKey(ctx, key, msg.Data, id)
		if err != nil {
			return contracts.CreateOrderReply{}, err
		}
		id = claimed
	}
	v, err := o.store.create(ctx, newView(id, req, o.now()))
	if err != nil {
		return contracts.CreateOrderReply{}, err
	}
	// A replay re-announces an order that is still pending, in case the
	// first attempt stopped before its publish; one that moved on was
	// announced, since inventory acted on it.
	if v.Status == contracts.StatusPending {
		if err := runtime.Emit(ctx, contracts.OrderCreated, createdEvent(v),
			runtime.MsgID(contracts.SubjectOrdersCreated+":"+v.OrderID)); err != nil {
			return contracts.CreateOrderReply{}, fmt.Errorf("order %s: %w", v.OrderID, err)
		}
	}
	return contracts.CreateOrderReply{OrderID: v.OrderID, Status: v.Status}, nil
}

// createdEvent is the orders.created event of a stored order: a replay
// publishes exactly the same payload.
func createdEvent(v contracts.OrderView) contracts.OrderCreatedEvent {
	items := make([]contracts.OrderItem, len(v.Items))
	for i, it := range v.Items {
		items[i] = contracts.OrderItem{ProductID: it.ProductID, Quantity: it.Quantity}
	}
	return contracts.OrderCreatedEvent{
		OrderID:    v.OrderID,
		CustomerID: v.CustomerID,
		Items:      items,
		CreatedAt:  v.CreatedAt,
	}
}
