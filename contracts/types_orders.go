package contracts

import "time"

// OrderItem is a product and how many of it.
type OrderItem struct {
	// ProductID names the product; [A-Za-z0-9_-] tokens joined by single dots, at most 128 bytes.
	ProductID string `json:"product_id"`
	// Quantity is 1 to 10000.
	Quantity int `json:"quantity"`
}

// CreateOrderRequest is the request of orders.create (orders.create.request.v1).
type CreateOrderRequest struct {
	// CustomerID names the customer; 1 to 128 characters.
	CustomerID string `json:"customer_id"`
	// Items lists 1 to 100 items.
	Items []OrderItem `json:"items"`
}

// CreateOrderReply is the reply of orders.create (orders.create.reply.v1).
type CreateOrderReply struct {
	// OrderID is the new order's id, a UUID.
	OrderID string `json:"order_id"`
	// Status is normally StatusPending; a repeated request with the same
	// Idempotency-Key gets the order's current status.
	Status OrderStatus `json:"status"`
}

// GetOrderRequest is the request of orders.get (orders.get.request.v1).
type GetOrderRequest struct {
	// OrderID names the order.
	OrderID string `json:"order_id"`
}

// OrderView is the reply of orders.get (orders.get.reply.v1): the order as
// the orders function sees it.
type OrderView struct {
	// OrderID names the order.
	OrderID string `json:"order_id"`
	// CustomerID names the customer.
	CustomerID string `json:"customer_id"`
	// Status is where the order stands.
	Status OrderStatus `json:"status"`
	// Reason is set exactly when Status is StatusCancelled.
	Reason Reason `json:"reason,omitempty"`
	// Items lists what was ordered, with unit prices once reserved.
	Items []OrderViewItem `json:"items"`
	// TotalCents is the order total in cents, 0 until the stock is reserved.
	TotalCents int64 `json:"total_cents"`
	// PaymentID names the payment; set exactly when the order is confirmed.
	PaymentID string `json:"payment_id,omitempty"`
	// CreatedAt is when the order was placed.
	CreatedAt time.Time `json:"created_at"`
	// UpdatedAt is when the order last changed.
	UpdatedAt time.Time `json:"updated_at"`
	// Timeline lists what happened to the order, oldest first. It must
	// not be nil: the schema wants an array, and nil encodes as null.
	Timeline []TimelineEntry `json:"timeline"`
}

// OrderViewItem is an item of an OrderView.
type OrderViewItem struct {
	// ProductID names the product.
	ProductID string `json:"product_id"`
	// Quantity is how many were ordered.
	Quantity int `json:"quantity"`
	// UnitPriceCents is the reserved unit price in cents; nil until the
	// stock is reserved (a pointer, because 0 is a valid price).
	UnitPriceCents *int64 `json:"unit_price_cents,omitempty"`
}

// TimelineEntry is one step in the life of an order.
type TimelineEntry struct {
	// Event is the subject of the event that moved the order, e.g. "orders.created".
	Event string `json:"event"`
	// Status is the order's status after the step.
	Status OrderStatus `json:"status"`
	// At is when the step happened.
	At time.Time `json:"at"`
	// Detail says more, for a human; optional, at most 1024 bytes.
	Detail string `json:"detail,omitempty"`
}

// CancelOrderRequest is the request of orders.cancel (orders.cancel.request.v1).
type CancelOrderRequest struct {
	// OrderID names the order.
	OrderID string `json:"order_id"`
}

// CancelOrderReply is the reply of orders.cancel (orders.cancel.reply.v1).
// Status is always StatusCancelled; an order that cannot be cancelled
// (confirmed already) gets an error reply instead.
type CancelOrderReply struct {
	// OrderID names the order.
	OrderID string `json:"order_id"`
	// Status is StatusCancelled.
	Status OrderStatus `json:"status"`
	// Reason is ReasonCancelledByCustomer, or the earlier reason when the
	// order was cancelled already.
	Reason Reason `json:"reason"`
}
