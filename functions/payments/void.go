package payments

import (
	"context"
	"errors"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// void handles orders.cancelled: an order cancelled before its charge
// gets a voided record, so that a late inventory.reserved charges
// nothing. An order with a payment already keeps it.
func (f *function) void(ctx context.Context, ev contracts.OrderCancelledEvent) (runtime.None, error) {
	_, err := f.create(ctx, &record{OrderID: ev.OrderID, State: stateVoided})
	if errors.Is(err, errLost) {
		return runtime.None{}, nil
	}
	if err == nil {
		f.logger.Info("payment voided before the charge", "order_id", ev.OrderID, "reason", ev.Reason)
	}
	return runtime.None{}, err
}
