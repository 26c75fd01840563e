package contracts

// GetStockRequest is the request of inventory.stock.get (inventory.stock.get.request.v1).
type GetStockRequest struct {
	// ProductID names the product.
	ProductID string `json:"product_id"`
}

// SetStockRequest is the request of inventory.stock.set (inventory.stock.set.request.v1).
type SetStockRequest struct {
	// ProductID names the product; [A-Za-z0-9_-] tokens joined by single dots, at most 128 bytes.
	ProductID string `json:"product_id"`
	// Quantity is the quantity available, 0 or more.
	Quantity int `json:"quantity"`
	// PriceCents is the unit price in cents, 0 or more.
	PriceCents int64 `json:"price_cents"`
}

// StockReply is the reply of inventory.stock.get and inventory.stock.set
// (inventory.stock.reply.v1).
type StockReply struct {
	// ProductID names the product.
	ProductID string `json:"product_id"`
	// Quantity is the quantity available, reservations deducted.
	Quantity int `json:"quantity"`
	// PriceCents is the unit price in cents.
	PriceCents int64 `json:"price_cents"`
}
