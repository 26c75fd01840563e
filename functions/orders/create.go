package orders

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// create serves orders.create. The runtime has validated the request
// against its schema (400) and its size (413) already.
//
// The order is announced before it is stored (event first, see the package
// doc): the products are checked before anything is written (404); the
// Idempotency-Key claim names the order id up front, so a retry places the
// same order; orders.created is published with the Nats-Msg-Id
// "orders.created:<id>", so a retried publish is dropped by the stream;
// and only then is the order stored. A failed publish answers 503 with no
// order written, so no order is ever stranded pending: the caller's retry
// places it. A failed store answers the order as placed all the same: the
// event is in the stream, and the function's own projection of
// orders.created (onCreated) stores the order from it.
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
		if claimed != id {
			// A replay: once stored, the order was announced, since
			// only a published order is ever stored.
			v, _, err := o.store.load(ctx, claimed)
			if err == nil {
				return contracts.CreateOrderReply{OrderID: v.OrderID, Status: v.Status}, nil
			}
			if !errors.Is(err, runtime.ErrNotFound) {
				return contracts.CreateOrderReply{}, err
			}
			// Not stored (yet): the first attempt failed, or its write is
			// on its way. Announcing again is harmless: the stream drops
			// the duplicate and the store keeps the first.
		}
		id = claimed
	}
	ev := contracts.OrderCreatedEvent{OrderID: id, CustomerID: req.CustomerID, Items: req.Items, CreatedAt: o.now()}
	if err := runtime.Emit(ctx, contracts.OrderCreated, ev, createdMsgID(id)); err != nil {
		return contracts.CreateOrderReply{}, fmt.Errorf("order %s not placed, nothing stored: %w", id, err)
	}
	if _, err := o.store.add(ctx, viewOf(ev)); err != nil {
		// The stream holds the order: the projection stores it.
		o.logger.WarnContext(ctx, "order announced but not stored: the projection of orders.created stores it",
			"order_id", id, "error", err)
	}
	// The order was placed pending. The projection may have stored it
	// first, and the saga moved it on already: a replay reads that.
	return contracts.CreateOrderReply{OrderID: id, Status: contracts.StatusPending}, nil
}

// createdMsgID is the Nats-Msg-Id of an order's orders.created: the same
// for every attempt to place the order, so the stream keeps one.
func createdMsgID(id string) runtime.EmitOption {
	return runtime.MsgID(contracts.SubjectOrdersCreated + ":" + id)
}
