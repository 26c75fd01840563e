package orders

import (
	"context"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// cancel serves orders.cancel. A pending or reserved order is cancelled
// (reason cancelled_by_customer) and orders.cancelled is published, so
// inventory releases the stock and payments voids the charge. Cancelling a
// cancelled order answers the same again, with its original reason, and
// finishes the announcement if an earlier call stopped before it. A
// confirmed order is paid: 409.
func (o *orders) cancel(ctx context.Context, req contracts.CancelOrderRequest) (contracts.CancelOrderReply, error) {
	v, err := o.store.update(ctx, req.OrderID, func(v *contracts.OrderView) bool {
		if !open(v.Status) {
			return false
		}
		cancelWith(v, contracts.ReasonCancelledByCustomer)
		record(v, contracts.SubjectOrdersCancel, "cancelled by the customer", o.now())
		return true
	})
	if err != nil {
		return contracts.CancelOrderReply{}, err
	}
	if v.Status == contracts.StatusConfirmed {
		return contracts.CancelOrderReply{}, runtime.Errorf(runtime.ErrConflict, "order %s already paid", v.OrderID)
	}
	if v, err = o.announce(ctx, v); err != nil {
		return contracts.CancelOrderReply{}, err
	}
	return contracts.CancelOrderReply{OrderID: v.OrderID, Status: v.Status, Reason: v.Reason}, nil
}
