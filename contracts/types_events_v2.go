package contracts

// The major 2 payloads carry their amounts as Money in place of the
// *_cents integers of major 1; nothing else changes. Their names end in V2.

// ReservedItemV2 is an item reserved at a unit price.
type ReservedItemV2 struct {
	// ProductID names the product.
	ProductID string `json:"product_id"`
	// Quantity is how many were reserved.
	Quantity int `json:"quantity"`
	// UnitPriceMoney is the unit price at reservation time.
	UnitPriceMoney Money `json:"unit_price_money"`
}

// InventoryReservedEventV2 is the payload of inventory.reserved.v2 (inventory.reserved.v2).
type InventoryReservedEventV2 struct {
	// OrderID names the order.
	OrderID string `json:"order_id"`
	// Items lists every item of the order, priced.
	Items []ReservedItemV2 `json:"items"`
	// TotalMoney is the sum of quantity × unit price, in the items' currency.
	TotalMoney Money `json:"total_money"`
}

// PaymentCompletedEventV2 is the payload of payments.completed.v2 (payments.completed.v2).
type PaymentCompletedEventV2 struct {
	// OrderID names the order.
	OrderID string `json:"order_id"`
	// PaymentID names the payment.
	PaymentID string `json:"payment_id"`
	// AmountMoney is the amount charged.
	AmountMoney Money `json:"amount_money"`
}

// PaymentFailedEventV2 is the payload of payments.failed.v2 (payments.failed.v2).
type PaymentFailedEventV2 struct {
	// OrderID names the order.
	OrderID string `json:"order_id"`
	// Reason is FailureDeclined.
	Reason FailureReason `json:"reason"`
	// AmountMoney is the amount that was not charged.
	AmountMoney Money `json:"amount_money"`
}

// PaymentRefundedEventV2 is the payload of payments.refunded.v2 (payments.refunded.v2).
type PaymentRefundedEventV2 struct {
	// OrderID names the order.
	OrderID string `json:"order_id"`
	// PaymentID names the payment that was refunded.
	PaymentID string `json:"payment_id"`
	// AmountMoney is the amount refunded.
	AmountMoney Money `json:"amount_money"`
}
