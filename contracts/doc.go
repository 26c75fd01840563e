// Package contracts holds what the natsfn functions agree on: the versioned
// JSON Schemas of every request, reply and event, the Go types that match
// them, the subjects, the streams and the KV bucket names.
//
// Each schema lives in schemas/<id>.json (JSON Schema draft 2020-12) and is
// embedded in the binary. Its id names the message and its version, as in
// "orders.create.request.v1"; a breaking change gets a new file and a new
// id, such as "orders.create.request.v2", and both versions stay valid
// while producers and consumers move over. The schemas are compiled once,
// when the package is initialised, and [Schema.Validate] is safe for
// concurrent use.
//
// An [Event] ties an event subject to the stream that stores it and the
// schema of its payload. [Streams] is derived from [Events], so a stream
// always lists exactly the event subjects it stores, and never a request
// subject: a stream that captured orders.create would answer a request
// with a PubAck alongside the service's reply.
//
// Amounts are integer cents, times are RFC 3339, and identifiers that end
// up in KV keys (order, product and payment ids) are restricted to tokens
// of [A-Za-z0-9_-] joined by single dots, which is exactly what a KV key
// accepts: no dot at either end and no two dots in a row.
//
// The package knows nothing about NATS connections and imports no NATS
// package: the runtime consumes a [*Schema] or an [Event] through small
// interfaces of its own.
package contracts
