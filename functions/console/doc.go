// Package console is natsfn's web console: one page that shows what runs
// on NATS and lets a newcomer watch an order go through the saga.
//
//   - Functions and instances, from micro discovery ($SRV.INFO, $SRV.PING,
//     $SRV.STATS), as `nats micro ls|info|stats` see them.
//   - Every endpoint's and event handler's figures, from the micro stats
//     data the runtime publishes.
//   - The topology, drawn from the services' metadata: an event handler's
//     trigger says what it consumes; what a function emits comes from its
//     handlers' "emits" metadata (EmitsKey) when present, else from what the
//     console saw it publish and the stream named after it.
//   - Dead letters with their reasons, each with a replay button
//     (`<fn>.dlq.list`, `<fn>.dlq.replay`).
//   - A live order: placed from the page (orders.create, with a new W3C
//     trace), its saga events pushed to the page as Server-Sent Events as
//     they pass on NATS, beside orders.get's authoritative status and
//     timeline; and the simulated payment gateway's mode, to show a
//     declined payment's compensation.
//
// The console is a NATS client, not a function: it needs no JetStream and
// no admin user. Its user may publish `$SRV.>` and requests to
// orders.create/get/cancel, inventory.stock.get, payments.gateway.get/set
// and `<fn>.dlq.list`/`<fn>.dlq.replay`, and subscribe to its own inbox
// (InboxPrefix) and the nine event subjects; nothing else.
//
//	nc, _ := nats.Connect(url, nats.CustomInboxPrefix(console.InboxPrefix))
//	c, _ := console.New(nc, console.Config{})
//	defer c.Close()
//	http.Handle("/console/", http.StripPrefix("/console", c))
//
// The page is rendered on the server (html/template) and embedded in the
// binary; a little plain JavaScript swaps in the fragments the server
// renders and shows every failed fetch on the page. A request that got no
// answer is sent again where that is safe; an order goes with the page's
// Idempotency-Key, which the console passes to orders.create.
package console
