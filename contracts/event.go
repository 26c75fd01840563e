package contracts

import (
	"errors"
	"reflect"
)

// Event is one major version of a kind of event: the subject it is
// published on, the stream that stores it, and the schema of its payload
// (the major's latest minor). The runtime takes it to subscribe (OnEvent)
// and to publish (Emit). The zero Event is not useful; use the package
// variables.
//
// The majors of one event make a [Family]. Major 1 is published on the
// family's name (InventoryReserved on "inventory.reserved"), a later major
// N on the name and ".vN" (InventoryReservedV2 on "inventory.reserved.v2"),
// and both are stored by the same stream, so that a producer can publish
// the two in one atomic batch while consumers move over.
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

// Name returns the name of the event's family, without a version, e.g.
// "inventory.reserved" for both InventoryReserved and InventoryReservedV2.
func (e Event) Name() string { return e.schema.Name() }

// Major returns the event's major version, e.g. 2 for InventoryReservedV2.
func (e Event) Major() int { return e.schema.Major() }

// URI returns the URI of the exact version this program produces, such as
// "https://natsfn.dev/schemas/orders.created/1.1.json": the value of the
// ce-dataschema attribute of the events it emits.
func (e Event) URI() string { return e.schema.URI() }

// Type returns the Go type of the payload, e.g. InventoryReservedEventV2.
func (e Event) Type() reflect.Type { return e.schema.Type() }

// Validate reports whether doc is a valid payload of exactly the version
// this program produces (see [Schema.Validate]): what a producer checks
// before it publishes. A consumer uses [Event.ValidateReceived] instead.
func (e Event) Validate(doc []byte) error {
	if e.schema == nil {
		return errors.New("contracts: validate with a zero Event")
	}
	return e.schema.Validate(doc)
}

// Document returns the JSON document of the event's schema (see
// [Schema.Document]).
func (e Event) Document() []byte { return e.schema.Document() }

// String returns the event's subject.
func (e Event) String() string { return e.subject }

// The events of the order saga.
var (
	// OrderCreated: an order was placed (orders → inventory).
	OrderCreated = Event{subject: SubjectOrdersCreated, stream: StreamOrders, schema: orderCreatedV1}
	// OrderCancelled: an order was cancelled (orders → inventory releases its stock).
	OrderCancelled = Event{subject: SubjectOrdersCancelled, stream: StreamOrders, schema: orderCancelledV1}
	// OrderConfirmed: an order was paid and is final.
	OrderConfirmed = Event{subject: SubjectOrdersConfirmed, stream: StreamOrders, schema: orderConfirmedV1}
	// InventoryReserved: an order's stock was reserved, priced in euro
	// cents (inventory → payments, orders).
	InventoryReserved = Event{subject: SubjectInventoryReserved, stream: StreamInventory, schema: inventoryReservedV1}
	// InventoryReservedV2: InventoryReserved with prices as [Money].
	InventoryReservedV2 = Event{subject: SubjectInventoryReservedV2, stream: StreamInventory, schema: inventoryReservedV2}
	// InventoryRejected: an order's stock could not be reserved (inventory → orders).
	InventoryRejected = Event{subject: SubjectInventoryRejected, stream: StreamInventory, schema: inventoryRejectedV1}
	// InventoryReleased: an order's reserved stock was put back.
	InventoryReleased = Event{subject: SubjectInventoryReleased, stream: StreamInventory, schema: inventoryReleasedV1}
	// PaymentCompleted: an order was charged, in euro cents (payments → orders).
	PaymentCompleted = Event{subject: SubjectPaymentsCompleted, stream: StreamPayments, schema: paymentCompletedV1}
	// PaymentCompletedV2: PaymentCompleted with the amount as [Money].
	PaymentCompletedV2 = Event{subject: SubjectPaymentsCompletedV2, stream: StreamPayments, schema: paymentCompletedV2}
	// PaymentFailed: an order's charge was declined (payments → inventory, orders).
	PaymentFailed = Event{subject: SubjectPaymentsFailed, stream: StreamPayments, schema: paymentFailedV1}
	// PaymentFailedV2: PaymentFailed with the amount as [Money].
	PaymentFailedV2 = Event{subject: SubjectPaymentsFailedV2, stream: StreamPayments, schema: paymentFailedV2}
	// PaymentRefunded: the charge of an order cancelled while it was being
	// paid went back (payments → orders).
	PaymentRefunded = Event{subject: SubjectPaymentsRefunded, stream: StreamPayments, schema: paymentRefundedV1}
	// PaymentRefundedV2: PaymentRefunded with the amount as [Money].
	PaymentRefundedV2 = Event{subject: SubjectPaymentsRefundedV2, stream: StreamPayments, schema: paymentRefundedV2}
)

// Events returns every major of every event, grouped by stream, each
// family's majors oldest first: the saga's, then those of the functions
// `natsfn new` made, which it adds at the marker. The slice is new on each
// call.
func Events() []Event {
	return []Event{
		OrderCreated, OrderCancelled, OrderConfirmed,
		InventoryReserved, InventoryReservedV2, InventoryRejected, InventoryReleased,
		PaymentCompleted, PaymentCompletedV2, PaymentFailed, PaymentFailedV2,
		PaymentRefunded, PaymentRefundedV2,
		// natsfn new: events
	}
}
