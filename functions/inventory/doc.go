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
// The stock bucket holds one record per product (key = product id):
// {quantity, price_cents, op}. Every write is a compare-and-swap at the
// revision just read, so concurrent orders on many instances never sell a
// unit twice. op names the write ("set", "take:<order>:<line>", ...): it
// lets a worker that resumes a crashed reservation find out whether a
// write it had announced took place.
//
// The reservations bucket holds one record per order (key = order id). It
// is the commit point of the reservation: it moves forward through
// reserving → reserved | (rejecting →) rejected, and reserved → releasing →
// released; a cancel that comes before the order is reserved leaves a
// "released" tombstone, so a late orders.created reserves nothing.
//
// # Resuming after a crash
//
// A stock write and the reservation record cannot change together, so the
// record announces each stock write before it is made: an intent
// {line, op, from_rev}, saved with the record, says "I am about to CAS this
// product at revision from_rev". A worker that finds an intent settles it
// before going on: if the product is still at from_rev it writes the same
// record at from_rev (a fence: the announced write can no longer land),
// and otherwise it reads the product's history (the bucket keeps 64
// revisions) for the write that followed from_rev and checks its op. In
// the rare case where that write has left the history, it errs on the side
// of losing units rather than overselling: a take is done again, a return
// is not.
//
// A worker holds a short lease on a reservation in progress, so that two
// deliveries of one order (a duplicate event, a redelivery while the first
// is still running) do not work on it at the same time: the second waits
// for the first to finish, or for its lease to expire after a crash.
//
// Every event is emitted with a Nats-Msg-Id derived from the order id
// ("inventory.reserved:<order_id>"), so a redelivery or a duplicate
// orders.created re-emits the same result and the stream keeps one copy.
//
// Every write of the stock and reservations buckets is a
// "kv.<op> <bucket>" span under the handler's span (a lost
// compare-and-swap is an outcome, not an error), and the handlers log with
// their context, so a line carries the trace, span and correlation ids.
package inventory
