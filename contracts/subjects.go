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
