package contracts

// Request subjects, one per micro endpoint: <service>.<verb>. No stream
// ever captures them.
const (
	// SubjectOrdersCreate places an order (CreateOrderRequest → CreateOrderReply).
	SubjectOrdersCreate = "orders.create"
	// SubjectOrdersGet reads an order (GetOrderRequest → OrderView).
	SubjectOrdersGet = "orders.get"
	// SubjectOrdersCancel cancels an order (CancelOrderRequest → CancelOrderReply).
	SubjectOrdersCancel = "orders.cancel"
	// SubjectInventoryStockGet reads a product's stock (GetStockRequest → StockReply).
	SubjectInventoryStockGet = "inventory.stock.get"
	// SubjectInventoryStockSet sets a product's stock and price (SetStockRequest → StockReply).
	SubjectInventoryStockSet = "inventory.stock.set"
	// SubjectPaymentsGatewayGet reads the simulated gateway's settings (GetGatewayRequest → GatewayReply).
	SubjectPaymentsGatewayGet = "payments.gateway.get"
	// SubjectPaymentsGatewaySet steers the simulated gateway (SetGatewayRequest → GatewayReply).
	SubjectPaymentsGatewaySet = "payments.gateway.set"
)

// Event subjects, in the past tense. Each is stored by one stream; see
// [Events] and [Streams].
const (
	// SubjectOrdersCreated carries OrderCreatedEvent.
	SubjectOrdersCreated = "orders.created"
	// SubjectOrdersCancelled carries OrderCancelledEvent.
	SubjectOrdersCancelled = "orders.cancelled"
	// SubjectOrdersConfirmed carries OrderConfirmedEvent.
	SubjectOrdersConfirmed = "orders.confirmed"
	// SubjectInventoryReserved carries InventoryReservedEvent.
	SubjectInventoryReserved = "inventory.reserved"
	// SubjectInventoryRejected carries InventoryRejectedEvent.
	SubjectInventoryRejected = "inventory.rejected"
	// SubjectInventoryReleased carries InventoryReleasedEvent.
	SubjectInventoryReleased = "inventory.released"
	// SubjectPaymentsCompleted carries PaymentCompletedEvent.
	SubjectPaymentsCompleted = "payments.completed"
	// SubjectPaymentsFailed carries PaymentFailedEvent.
	SubjectPaymentsFailed = "payments.failed"
	// SubjectPaymentsRefunded carries PaymentRefundedEvent.
	SubjectPaymentsRefunded = "payments.refunded"
)

// Event subjects of later majors: the family's name and ".v<major>", beside
// major 1 in the same stream.
const (
	// SubjectInventoryReservedV2 carries InventoryReservedEventV2.
	SubjectInventoryReservedV2 = "inventory.reserved.v2"
	// SubjectPaymentsCompletedV2 carries PaymentCompletedEventV2.
	SubjectPaymentsCompletedV2 = "payments.completed.v2"
	// SubjectPaymentsFailedV2 carries PaymentFailedEventV2.
	SubjectPaymentsFailedV2 = "payments.failed.v2"
	// SubjectPaymentsRefundedV2 carries PaymentRefundedEventV2.
	SubjectPaymentsRefundedV2 = "payments.refunded.v2"
)
