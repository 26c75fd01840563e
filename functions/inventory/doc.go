// Package inventory is the natsfn inventory function: it keeps each
// product's stock and price, and reserves, rejects and releases the stock
// of orders in the order saga.
//
// Endpoints (micro service "inventory"): stock.get and stock.set.
// Event handlers: "reserve" on orders.created, "release-on-payment-failed"
// on payments.failed and "release-on-cancel" on orders.cancelled. It
// publishes inventory.reserved, inventory.rejected and inventory.released
// to the INVENTORY stream, which it declares.
//
// # State
//
// One bucket, stock (a runtime.Bucket), holds a record per product (key =
// product id): {"stock": {quantity, price_cents}}, and a record per order
// (key = "reservation/<order id>"): {"reservation": {state, lines, ...}}.
// A reservation is reserved, rejected or released; a cancel that comes
// before the order is reserved leaves a released tombstone, so a late
// orders.created reserves nothing.
//
// # One transaction per step
//
// A reservation reads the order's record and the stock of its products in
// one read, and commits the stock of every line and the reservation record
// in one JetStream atomic batch (runtime.Bucket.Transact), each key
// conditioned on the revision it was read at. So there is no state in
// between: a crash before the commit leaves nothing, after it everything,
// and the redelivery finds the record and announces what it says. Two
// deliveries of one order at once (a duplicate event, a redelivery) both
// try to create the record; one commit loses, runs again, and finds it. A
// release puts the lines back and marks the record released the same way.
// A rejection writes only the record.
//
// Every event is emitted with a Nats-Msg-Id derived from the order id
// ("inventory.reserved:<order_id>"), so a redelivery or a duplicate
// orders.created re-emits the same result and the stream keeps one copy.
//
// Every write of the bucket is a "kv.<op> stock" span under the handler's
// span ("kv.commit stock" for a transaction; a lost race is an outcome,
// not an error), and the handlers log with their context, so a line
// carries the trace, span and correlation ids.
package inventory
