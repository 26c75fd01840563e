package contracts

// Event is a kind of event: the subject it is published on, the stream
// that stores it, and the schema of its payload. The runtime takes it to
// subscribe (OnEvent) and to publish (Emit). The zero Event is not useful;
// use the package variables.
type Event struct {
	subject string
	stream  string
	schema  *Schema
}

// Subject returns the subject the event is published on, e.g. "orders.created".
func (e Event) Subject() string { return e.subject }

// Stream returns the name of the stream that stores the event, e.g. "ORDERS".
func (e Event) Stream() string { return e.stream }

// ID returns the id of the payload's schema, e.g. "orders.created.v1".
func (e Event) ID() string { return e.schema.ID() }

// Validate reports whether doc is a valid payload for the event; see
// [Schema.Validate].
func (e Event) Validate(doc []byte) error { return e.schema.Validate(doc) }

// String returns the event's subject.
func (e Event) String() string { return e.subject }

// The events of the order saga.
var (
	// OrderCreated: an order was placed (orders → inventory).
	OrderCreated = Event{subject: SubjectOrdersCreated, stream: StreamOrders, schema: OrderCreatedV1}
	// OrderCancelled: an order was cancelled (orders → inventory releases its stock).
	OrderCancelled = Event{subject: SubjectOrdersCancelled, stream: StreamOrders, schema: OrderCancelledV1}
	// OrderConfirmed: an order was paid and is final.
	OrderConfirmed = Event{subject: SubjectOrdersConfirmed, stream: StreamOrders, schema: OrderConfirmedV1}
	// InventoryReserved: an order's stock was reserved (inventory → payments, orders).
	InventoryReserved = Event{subject: SubjectInventoryReserved, stream: StreamInventory, schema: InventoryReservedV1}
	// InventoryRejected: an order's stock could not be reserved (inventory → orders).
	InventoryRejected = Event{subject: SubjectInventoryRejected, stream: StreamInventory, schema: InventoryRejectedV1}
	// InventoryReleased: an order's reserved stock was put back.
	InventoryReleased = Event{subject: SubjectInventoryReleased, stream: StreamInventory, schema: InventoryReleasedV1}
	// PaymentCompleted: an order was charged (payments → orders).
	PaymentCompleted = Event{subject: SubjectPaymentsCompleted, stream: StreamPayments, schema: PaymentCompletedV1}
	// PaymentFailed: an order's charge was declined (payments → inventory, orders).
	PaymentFailed = Event{subject: SubjectPaymentsFailed, stream: StreamPayments, schema: PaymentFailedV1}
	// PaymentRefunded: the charge of an order cancelled while it was being
	// paid went back (payments → orders).
	PaymentRefunded = Event{subject: SubjectPaymentsRefunded, stream: StreamPayments, schema: PaymentRefundedV1}
)

// Events returns every event, grouped by stream. The slice is new on each
// call.
func Events() []Event {
	return []Event{
		OrderCreated, OrderCancelled, OrderConfirmed,
		InventoryReserved, InventoryRejected, InventoryReleased,
		PaymentCompleted, PaymentFailed, PaymentRefunded,
	}
}
