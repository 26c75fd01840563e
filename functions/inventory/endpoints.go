package inventory

import (
	"context"

	"github.com/natsfn/natsfn/contracts"
)

// getStock serves inventory.stock.get: 404 for an unknown product.
func (f *function) getStock(ctx context.Context, req contracts.GetStockRequest) (contracts.StockReply, error) {
	rec, _, err := f.readStock(ctx, req.ProductID)
	if err != nil {
		return contracts.StockReply{}, err
	}
	return contracts.StockReply{ProductID: req.ProductID, Quantity: rec.Quantity, PriceCents: rec.PriceCents}, nil
}

// setStock serves inventory.stock.set: it creates or overwrites a
// product's available quantity and price. The schema has checked the
// request already (400 otherwise).
func (f *function) setStock(ctx context.Context, req contracts.SetStockRequest) (contracts.StockReply, error) {
	rec := stockRecord{Quantity: req.Quantity, PriceCents: req.PriceCents, Op: "set"}
	if err := f.upsert(ctx, req.ProductID, rec); err != nil {
		return contracts.StockReply{}, err
	}
	return contracts.StockReply{ProductID: req.ProductID, Quantity: req.Quantity, PriceCents: req.PriceCents}, nil
}
