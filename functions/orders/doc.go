// Package orders is the orders function of the natsfn reference saga.
//
// It serves three micro endpoints: orders.create places an order (honouring
// an Idempotency-Key header), orders.get reads it and orders.cancel cancels
// it while it is not paid. It also projects the saga's events into the
// order view: inventory.reserved, inventory.rejected, payments.completed and
// payments.failed move an order through a forward-only state machine,
//
//	pending → reserved → confirmed
//	pending | reserved → cancelled
//
// in which confirmed and cancelled are final. A payment that completes for
// an order cancelled meanwhile is refunded by payments; its
// payments.completed and payments.refunded go in the cancelled order's
// timeline and change nothing else. Every change is a KV Update at
// the revision that was read, retried on a mismatch, so events that arrive
// twice or out of order are harmless.
//
// The order view (contracts.OrderView) is the value of the `orders` bucket,
// and it doubles as the outbox of the events the function owes: an order
// that is confirmed, or cancelled for a payment or by its customer, owes one
// orders.confirmed or orders.cancelled event, and a timeline entry for that
// event is appended only once it has been published. Whoever touches the
// order next finishes an interrupted announcement, so a crash between the
// state change and the publish loses nothing and publishes nothing twice.
//
// The function owns the ORDERS stream and the `orders` and `idempotency`
// buckets, and reads the `stock` bucket that inventory owns, waiting for it
// when inventory has not started yet.
//
// Every write of the `orders` and `idempotency` buckets is a
// "kv.<op> <bucket>" span under the handler's span, and the handlers log
// with their context, so a line carries the trace, span and correlation ids.
package orders
