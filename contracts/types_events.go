package contracts

import "time"

// The payload types are named <Event>Event because the package variables
// OrderCreated, InventoryReserved, ... name the events themselves.

// OrderCreatedEvent is the payload of orders.created (orders.created.v1).
type OrderCreatedEvent struct {
	// OrderID names the order.
	OrderID string `json:"order_id"`
	// CustomerID names the customer.
	CustomerID string `json:"customer_id"`
	// Items lists 1 to 100 items.
	Items []OrderItem `json:"items"`
	// CreatedAt is when the order was placed.
	CreatedAt time.Time `json:"created_at"`
	// Priority is "standard" or "express", or empty when the producer
	// does not say (orders.created 1.1; absent from 1.0).
	Priority string `json:"priority,omitempty"`
}

// OrderCancelledEvent is the payload of orders.cancelled (orders.cancelled.v1).
type OrderCancelledEvent struct {
	// OrderID names the order.
	OrderID string `json:"order_id"`
	// Reason says why.
	Reason Reason `json:"reason"`
}

// OrderConfirmedEvent is the payload of orders.confirmed (orders.confirmed.v1).
type OrderConfirmedEvent struct {
	// OrderID names the order.
	OrderID string `json:"order_id"`
	// PaymentID names the payment.
	PaymentID string `json:"payment_id"`
	// TotalCents is the amount paid, in euro cents.
	TotalCents int64 `json:"total_cents"`
}

// ReservedItem is an item reserved at a unit price.
type ReservedItem struct {
	// ProductID names the product.
	ProductID string `json:"product_id"`
	// Quantity is how many were reserved.
	Quantity int `json:"quantity"`
	// UnitPriceCents is the unit price in euro cents (V1Currency) at reservation time.
	UnitPriceCents int64 `json:"unit_price_cents"`
}

// InventoryReservedEvent is the payload of inventory.reserved (inventory.reserved.v1).
type InventoryReservedEvent struct {
	// OrderID names the order.
	OrderID string `json:"order_id"`
	// Items lists every item of the order, priced.
	Items []ReservedItem `json:"items"`
	// TotalCents is the sum of quantity × unit price, in euro cents.
	TotalCents int64 `json:"total_cents"`
}

// InventoryRejectedEvent is the payload of inventory.rejected (inventory.rejected.v1).
type InventoryRejectedEvent struct {
	// OrderID names the order.
	OrderID string `json:"order_id"`
	// Reason is ReasonOutOfStock or ReasonUnknownProduct.
	Reason Reason `json:"reason"`
	// ProductID names an item that could not be reserved.
	ProductID string `json:"product_id"`
}

// ReleaseCause is the subject of the event that made inventory release
// an order's stock.
type ReleaseCause string

// The release causes.
const (
	// CausePaymentFailed: the payment failed.
	CausePaymentFailed ReleaseCause = SubjectPaymentsFailed
	// CauseOrderCancelled: the order was cancelled.
	CauseOrderCancelled ReleaseCause = SubjectOrdersCancelled
)

// InventoryReleasedEvent is the payload of inventory.released (inventory.released.v1).
type InventoryReleasedEvent struct {
	// OrderID names the order.
	OrderID string `json:"order_id"`
	// Items lists what was put back.
	Items []OrderItem `json:"items"`
	// Cause is the subject of the event that caused the release.
	Cause ReleaseCause `json:"cause"`
}

// PaymentCompletedEvent is the payload of payments.completed (payments.completed.v1).
type PaymentCompletedEvent struct {
	// OrderID names the order.
	OrderID string `json:"order_id"`
	// PaymentID names the payment.
	PaymentID string `json:"payment_id"`
	// AmountCents is the amount charged, in euro cents.
	AmountCents int64 `json:"amount_cents"`
}

// PaymentRefundedEvent is the payload of payments.refunded
// (payments.refunded.v1): an order cancelled while its charge was under
// way was charged anyway, and the money went back.
type PaymentRefundedEvent struct {
	// OrderID names the order.
	OrderID string `json:"order_id"`
	// PaymentID names the payment that was refunded.
	PaymentID string `json:"payment_id"`
	// AmountCents is the amount refunded, in euro cents.
	AmountCents int64 `json:"amount_cents"`
}

// FailureReason says why a payment failed.
type FailureReason string

// The failure reasons.
const (
	// FailureDeclined: the gateway declined the charge.
	FailureDeclined FailureReason = "declined"
)

// PaymentFailedEvent is the payload of payments.failed (payments.failed.v1).
type PaymentFailedEvent struct {
	// OrderID names the order.
	OrderID string `json:"order_id"`
	// Reason is FailureDeclined.
	Reason FailureReason `json:"reason"`
	// AmountCents is the amount that was not charged, in euro cents.
	AmountCents int64 `json:"amount_cents"`
}
