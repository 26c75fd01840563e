package contracts

// Request and reply schemas of the micro endpoints. Requests are validated
// strictly: a property the schema does not declare is a 400 naming it.
var (
	// CreateOrderRequestV1 validates a CreateOrderRequest.
	CreateOrderRequestV1 = declare[CreateOrderRequest]("orders.create.request.v1")
	// CreateOrderReplyV1 validates a CreateOrderReply.
	CreateOrderReplyV1 = declare[CreateOrderReply]("orders.create.reply.v1")
	// GetOrderRequestV1 validates a GetOrderRequest.
	GetOrderRequestV1 = declare[GetOrderRequest]("orders.get.request.v1")
	// OrderViewV1 validates an OrderView, the reply of orders.get.
	OrderViewV1 = declare[OrderView]("orders.get.reply.v1")
	// CancelOrderRequestV1 validates a CancelOrderRequest.
	CancelOrderRequestV1 = declare[CancelOrderRequest]("orders.cancel.request.v1")
	// CancelOrderReplyV1 validates a CancelOrderReply.
	CancelOrderReplyV1 = declare[CancelOrderReply]("orders.cancel.reply.v1")
	// GetStockRequestV1 validates a GetStockRequest.
	GetStockRequestV1 = declare[GetStockRequest]("inventory.stock.get.request.v1")
	// SetStockRequestV1 validates a SetStockRequest.
	SetStockRequestV1 = declare[SetStockRequest]("inventory.stock.set.request.v1")
	// StockReplyV1 validates a StockReply, the reply of inventory.stock.get and inventory.stock.set.
	StockReplyV1 = declare[StockReply]("inventory.stock.reply.v1")
	// GetGatewayRequestV1 validates a GetGatewayRequest (an empty object).
	GetGatewayRequestV1 = declare[GetGatewayRequest]("payments.gateway.get.request.v1")
	// SetGatewayRequestV1 validates a SetGatewayRequest.
	SetGatewayRequestV1 = declare[SetGatewayRequest]("payments.gateway.set.request.v1")
	// GatewayReplyV1 validates a GatewayReply, the reply of payments.gateway.get and payments.gateway.set.
	GatewayReplyV1 = declare[GatewayReply]("payments.gateway.reply.v1")
)

// Event payload schemas, one per major. They are reached through the
// events (see event.go), which add the subject and the stream.
var (
	orderCreatedV1      = declare[OrderCreatedEvent]("orders.created.v1")
	orderCancelledV1    = declare[OrderCancelledEvent]("orders.cancelled.v1")
	orderConfirmedV1    = declare[OrderConfirmedEvent]("orders.confirmed.v1")
	inventoryReservedV1 = declare[InventoryReservedEvent]("inventory.reserved.v1")
	inventoryReservedV2 = declare[InventoryReservedEventV2]("inventory.reserved.v2")
	inventoryRejectedV1 = declare[InventoryRejectedEvent]("inventory.rejected.v1")
	inventoryReleasedV1 = declare[InventoryReleasedEvent]("inventory.released.v1")
	paymentCompletedV1  = declare[PaymentCompletedEvent]("payments.completed.v1")
	paymentCompletedV2  = declare[PaymentCompletedEventV2]("payments.completed.v2")
	paymentFailedV1     = declare[PaymentFailedEvent]("payments.failed.v1")
	paymentFailedV2     = declare[PaymentFailedEventV2]("payments.failed.v2")
	paymentRefundedV1   = declare[PaymentRefundedEvent]("payments.refunded.v1")
	paymentRefundedV2   = declare[PaymentRefundedEventV2]("payments.refunded.v2")
)

// Schemas returns the latest minor of every major of every schema,
// requests and replies first, then events. `natsfn new` adds a new
// function's requests and replies at the marker. The slice is new on each call;
// the schemas are shared and immutable.
func Schemas() []*Schema {
	s := []*Schema{
		CreateOrderRequestV1, CreateOrderReplyV1,
		GetOrderRequestV1, OrderViewV1,
		CancelOrderRequestV1, CancelOrderReplyV1,
		GetStockRequestV1, SetStockRequestV1, StockReplyV1,
		GetGatewayRequestV1, SetGatewayRequestV1, GatewayReplyV1,
		// natsfn new: schemas
	}
	for _, ev := range Events() {
		s = append(s, ev.schema)
	}
	return s
}

// Lookup returns a schema by the id of its major, such as
// "orders.created.v1" (its latest minor), or by the URI of an exact
// version, such as "https://natsfn.dev/schemas/orders.created/1.0.json",
// the value of an event's ce-dataschema attribute.
func Lookup(ref string) (*Schema, bool) {
	for _, s := range Schemas() {
		if s.id == ref {
			return s, true
		}
		for _, m := range s.minors {
			if m.uri == ref {
				return m, true
			}
		}
	}
	return nil, false
}
