// Package payments is the natsfn payments function: it charges the total
// of every reserved order through a payment Gateway behind a circuit
// breaker, and calls off the payment of every cancelled order: voided
// before the charge, refunded after it.
//
// Endpoints (micro service "payments"): gateway.get and gateway.set, which
// read and steer the simulated gateway. Event handlers: "charge" on
// inventory.reserved and "void" on orders.cancelled. It publishes
// payments.completed, payments.failed and payments.refunded to the
// PAYMENTS stream, which it declares.
//
// # State
//
// The payments bucket holds one record per order (key = order id):
// charging, then completed or failed; or voided when the cancel came
// first. The record is created with KV Create, so the first of "charge"
// and "void" decides. A cancel that finds the record charging or
// completed turns it to cancelling and calls the gateway's Cancel, which
// refunds a charge made or makes sure none will be: the record ends
// refunded (announced as payments.refunded) or voided. A charge that
// finds its record taken by a cancel leaves it to "void".
//
// The gateway bucket is the simulated gateway's shared state: the key
// "settings" holds {mode, failure_rate, latency_ms}, which every instance
// watches, and the keys "charge.<order_id>" are its ledger. A ledger entry
// is created with KV Create and is the charge itself, so an order is never
// charged twice, across retries, instances and crashes: a second call
// returns the first outcome. Cancel creates "charge.<order_id>" as
// cancelled when no charge was made, so a charge still on its way is
// refused (ErrCancelled), and "refund.<order_id>" when one was. [Charges]
// and [Refunds] count them.
//
// # Orders it does not know
//
// Before the first charge of an order, "charge" asks the orders function
// (orders.get) whether it knows the order, so that no money is taken for
// an order orders never stored (a stray or hand-made event). A cancelled
// order is not charged: void calls its payment off. "Not found" is
// transient, since a read may come from a replica that lags behind the
// order's write: the message comes back every 2 s while the event is
// younger than Config.UnknownOrderWait (2 minutes by default). Past that,
// the payment is recorded failed and payments.failed announced without
// calling the gateway, so that inventory gives back the stock it
// reserved. Orders not answering at all is waited out like a gateway
// outage, without a bound.
//
// The payments bucket and the gateway's settings are the runtime's typed
// buckets (runtime.NewBucket): every read and write is retried with
// jittered backoff while it fails for a reason that passes (a KV leader
// election), for as long as the handler's timeout allows, and a record
// that reads as missing on a replica is read again from the stream leader
// before a charge or a void acts on it. The simulated gateway, which
// stands for an external provider, keeps its ledger through nats.go's
// KeyValue, retried the same way (functions/internal/kvretry).
//
// # Outages
//
// The gateway is wrapped by a circuit breaker (sony/gobreaker). A decline
// is an answer, so it counts as a success for the breaker; an outage, or
// any other gateway error, is a failure. While the gateway fails, the
// order waits instead of failing: the charge pauses its consumer for every
// instance (runtime.Pause) until the breaker lets a call through again,
// and asks for the message back after that delay (runtime.RetryAfter).
// The charge and void handlers have no delivery limit for the same
// reason: an outage may last any time, and it must not dead-letter an
// order. A void that meets an outage asks for its message back when the
// breaker lets a call through.
//
// Every event is emitted with a Nats-Msg-Id derived from the order id
// ("payments.completed:<order_id>"), so a redelivery or a duplicate
// inventory.reserved re-emits the recorded outcome and the stream keeps
// one copy.
//
// # Telemetry
//
// Besides the runtime's spans and metrics, a charge shows its gateway call
// as a "gateway.charge" span under the handler's span, with order_id,
// amount_cents, gateway.outcome (charged, declined, outage, breaker-open or
// cancelled) and payment_id once charged; a decline is an answer, so only
// an outage, an open breaker or a cancelled call mark it as an error. A
// void's gateway call is a "gateway.cancel" span, its outcome refunded or
// voided (or outage, breaker-open, cancelled). Every
// write of the payments and gateway buckets is a "kv.<op> <bucket>" span
// (the ledger's under the gateway call).
//
// Metrics, each labelled function="payments" (Prometheus names in
// brackets):
//
//	payments.breaker.state    gauge: 0 closed, 1 half-open, 2 open  [payments_breaker_state]
//	payments.gateway.charges  counter by outcome                    [payments_gateway_charges_total]
//	payments.gateway.cancels  counter by outcome                    [payments_gateway_cancels_total]
//	payments.breaker.opens    counter: times the breaker opened     [payments_breaker_opens_total]
//	payments.charge.pauses    counter: charge consumer pauses       [payments_charge_pauses_total]
package payments
