package inventory

import (
	"context"
	"errors"
	"fmt"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// entry is a value of the stock bucket: a product's stock, under the
// product's id, or an order's reservation, under reservationKey(order).
// Both live in one bucket so that one transaction changes the stock of
// every line of an order and its reservation together.
type entry struct {
	Stock       *stock       `json:"stock,omitempty"`
	Reservation *reservation `json:"reservation,omitempty"`
}

// stock is a product's quantity and price.
type stock struct {
	// Quantity is what is available, reservations deducted.
	Quantity int `json:"quantity"`
	// PriceCents is the unit price in cents.
	PriceCents int64 `json:"price_cents"`
}

// stockOf returns the stock an entry read under a product's key holds.
func stockOf(product string, e entry) (stock, error) {
	if e.Stock == nil {
		return stock{}, runtime.Permanent(fmt.Errorf("the value of product %s is not a stock record: %w", product, runtime.ErrInternal))
	}
	return *e.Stock, nil
}

// getStock serves inventory.stock.get: 404 for an unknown product.
func (f *function) getStock(ctx context.Context, req contracts.GetStockRequest) (contracts.StockReply, error) {
	e, _, err := f.bucket.Get(ctx, req.ProductID)
	if errors.Is(err, runtime.ErrNotFound) {
		return contracts.StockReply{}, runtime.Errorf(runtime.ErrNotFound, "unknown product %s", req.ProductID)
	}
	if err != nil {
		return contracts.StockReply{}, err
	}
	s, err := stockOf(req.ProductID, e)
	if err != nil {
		return contracts.StockReply{}, err
	}
	return contracts.StockReply{ProductID: req.ProductID, Quantity: s.Quantity, PriceCents: s.PriceCents}, nil
}

// setStock serves inventory.stock.set: it creates or overwrites a
// product's available quantity and price. The schema has checked the
// request already (400 otherwise).
func (f *function) setStock(ctx context.Context, req contracts.SetStockRequest) (contracts.StockReply, error) {
	_, _, err := f.bucket.Modify(ctx, req.ProductID, func(e *entry, exists bool) error {
		if exists && e.Stock == nil {
			_, err := stockOf(req.ProductID, *e)
			return err
		}
		e.Stock = &stock{Quantity: req.Quantity, PriceCents: req.PriceCents}
		return nil
	})
	if err != nil {
		return contracts.StockReply{}, err
	}
	return contracts.StockReply{ProductID: req.ProductID, Quantity: req.Quantity, PriceCents: req.PriceCents}, nil
}
