package contracts

// Request and reply schemas of the micro endpoints.
var (
	// CreateOrderRequestV1 validates a CreateOrderRequest.
	CreateOrderRequestV1 = mustSchema("orders.create.request.v1")
	// CreateOrderReplyV1 validates a CreateOrderReply.
	CreateOrderReplyV1 = mustSchema("orders.create.reply.v1")
	// GetOrderRequestV1 validates a GetOrderRequest.
	GetOrderRequestV1 = mustSchema("orders.get.request.v1")
	// OrderViewV1 validates an OrderView, the reply of orders.get.
	OrderViewV1 = mustSchema("orders.get.reply.v1")
	// CancelOrderRequestV1 validates a CancelOrderRequest.
	CancelOrderRequestV1 = mustSchema("orders.cancel.request.v1")
	// CancelOrderReplyV1 validates a CancelOrderReply.
	CancelOrderReplyV1 = mustSchema("orders.cancel.reply.v1")
	// GetStockRequestV1 validates a GetStockRequest.
	GetStockRequestV1 = mustSchema("inventory.stock.get.request.v1")
	// SetStockRequestV1 validates a SetStockRequest.
	SetStockRequestV1 = mustSchema("inventory.stock.set.request.v1")
	// StockReplyV1 validates a StockReply, the reply of inventory.stock.get and inventory.stock.set.
	StockReplyV1 = mustSchema("inventory.stock.reply.v1")
	// GetGatewayRequestV1 validates a GetGatewayRequest (an empty object).
	GetGatewayRequestV1 = mustSchema("payments.gateway.get.request.v1")
	// SetGatewayRequestV1 validates a SetGatewayRequest.
	SetGatewayRequestV1 = mustSchema("payments.gateway.set.request.v1")
	// GatewayReplyV1 validates a GatewayReply, the reply of payments.gateway.get and payments.gateway.set.
	GatewayReplyV1 = mustSchema("payments.gateway.reply.v1")
)

// Event payload schemas.
var (
	// OrderCreatedV1 validates an OrderCreatedEvent.
	OrderCreatedV1 = mustSchema("orders.created.v1")
	// OrderCancelledV1 validates an OrderCancelledEvent.
	OrderCancelledV1 = mustSchema("orders.cancelled.v1")
	// OrderConfirmedV1 validates an OrderConfirmedEvent.
	OrderConfirmedV1 = mustSchema("orders.confirmed.v1")
	// InventoryReservedV1 validates an InventoryReservedEvent.
	InventoryReservedV1 = mustSchema("inventory.reserved.v1")
	// InventoryRejectedV1 validates an InventoryRejectedEvent.
	InventoryRejectedV1 = mustSchema("inventory.rejected.v1")
	// InventoryReleasedV1 validates an InventoryReleasedEvent.
	InventoryReleasedV1 = mustSchema("inventory.released.v1")
	// PaymentCompletedV1 validates a PaymentCompletedEvent.
	PaymentCompletedV1 = mustSchema("payments.completed.v1")
	// PaymentFailedV1 validates a PaymentFailedEvent.
	PaymentFailedV1 = mustSchema("payments.failed.v1")
	// PaymentRefundedV1 validates a PaymentRefundedEvent.
	PaymentRefundedV1 = mustSchema("payments.refunded.v1")
)

// Schemas returns every schema, requests and replies first, then events.
// The slice is new on each call; the schemas are shared and immutable.
func Schemas() []*Schema {
	return []*Schema{
		CreateOrderRequestV1, CreateOrderReplyV1,
		GetOrderRequestV1, OrderViewV1,
		CancelOrderRequestV1, CancelOrderReplyV1,
		GetStockRequestV1, SetStockRequestV1, StockReplyV1,
		GetGatewayRequestV1, SetGatewayRequestV1, GatewayReplyV1,
		OrderCreatedV1, OrderCancelledV1, OrderConfirmedV1,
		InventoryReservedV1, InventoryRejectedV1, InventoryReleasedV1,
		PaymentCompletedV1, PaymentFailedV1, PaymentRefundedV1,
	}
}

// Lookup returns the schema with the given id, such as the value of an
// event's ce-dataschema header.
func Lookup(id string) (*Schema, bool) {
	for _, s := range Schemas() {
		if s.ID() == id {
			return s, true
		}
	}
	return nil, false
}
