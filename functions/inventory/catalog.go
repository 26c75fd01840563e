package inventory

import "github.com/natsfn/natsfn/contracts"

// DemoCatalog returns a small catalog for local runs and demos: the
// all-in-one binary seeds it, and the README lists it.
//
//	sku-1     widget     100 units at 19.99
//	sku-2     gadget      50 units at 49.99
//	sku-3     gizmo       10 units at  9.99
//	sku-rare  collector    1 unit  at 500.00
//
// The slice is new on each call.
func DemoCatalog() []contracts.SetStockRequest {
	return []contracts.SetStockRequest{
		{ProductID: "sku-1", Quantity: 100, PriceCents: 1999},
		{ProductID: "sku-2", Quantity: 50, PriceCents: 4999},
		{ProductID: "sku-3", Quantity: 10, PriceCents: 999},
		{ProductID: "sku-rare", Quantity: 1, PriceCents: 50000},
	}
}
