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
// # Event first
//
// orders.create publishes orders.created before it stores the order, and
// the stream is the source of truth. The choice, and why: a create used to
// store the order and then publish; when the publish failed (an ORDERS
// leader election, a stream refusing messages), the caller got a 503 but
// the order stayed pending for ever, its timeline listing an event never
// published, and a retry without an Idempotency-Key placed a second order.
// Publishing first makes the publish the one step whose failure the caller
// sees, and it leaves nothing behind: no order is stored, the caller's
// retry places it. The event's Nats-Msg-Id is "orders.created:<order id>"
// (the id a retry with the same Idempotency-Key reuses), so the stream
// keeps one copy of a retried publish. When the write after the publish
// fails, the order is placed all the same: the function's own consumer of
// orders.created (handler "order-created") stores every announced order
// not stored yet, with KV Create, so the create path and the projection
// store the same view once. An outbox swept later, or a JetStream message
// schedule, would also announce an order eventually, but need a sweeper or
// extra state, and leave an order visible before it is announced. A 503 is
// ambiguous in one case only: the stream stored the event but its
// acknowledgement was lost and the retries ran out of time; the order is
// then placed and proceeds, and a retry with the same Idempotency-Key finds
// it.
//
// Only an orders.created that orders.create published becomes an order: it
// carries ce-source "orders" and its Nats-Msg-Id. Any other (a stray or
// hand-made publish) is dead-lettered and no order is stored; payments
// then never charges it (it charges only orders this function knows) and
// declines it, so inventory gives the stock back.
//
// # The view and the outbox
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
// The buckets are the runtime's typed buckets (runtime.NewBucket): every
// read and write is retried with jittered backoff while it fails for a
// reason that passes (a KV leader election takes 4–9 s), for as long as
// the request's deadline or the event handler's timeout allows, and a
// change is a compare-and-swap (Modify). A "not found" read on a replica
// is read again from the stream leader before orders.get or orders.cancel
// answers 404. An event about an order not stored yet is read again for a
// few seconds, then redelivered with backoff, and dead-lettered only after
// 10 deliveries, about two and a half minutes.
//
// Every write of the `orders` and `idempotency` buckets is a
// "kv.<op> <bucket>" span under the handler's span, and the handlers log
// with their context, so a line carries the trace, span and correlation ids.
package orders
