package orders

import (
	"context"

	"github.com/natsfn/natsfn/contracts"
)

// get serves orders.get: the order view as stored, or a 404.
func (o *orders) get(ctx context.Context, req contracts.GetOrderRequest) (contracts.OrderView, error) {
	v, _, err := o.store.load(ctx, req.OrderID)
	return v, err
}
