// Package contracts holds what the natsfn functions agree on: the versioned
// JSON Schemas of every request, reply and event, the Go types that match
// them, the subjects, the streams and the KV bucket names.
//
// # Versions
//
// Every version of a schema is a file, schemas/<name>/<major>.<minor>.json
// (JSON Schema draft 2020-12), embedded in the binary, whose "$id" is the
// URI that names it exactly: https://natsfn.dev/schemas/orders.created/1.1.json.
// That URI is an event's CloudEvents dataschema (the ce-dataschema header).
// A [Schema] is one version; its ID, "orders.created.v1", names the major.
//
// A minor version only adds optional properties. A producer validates what
// it sends strictly against the exact version it was built with
// ([Event.Validate]); a consumer reads with [Event.ValidateReceived], which
// is strict about every version it knows and, for a newer minor it has not
// seen, ignores the properties it does not know while checking the ones it
// does. Requests stay strict: an unknown property is a 400 naming it.
//
// A breaking change is a new major with its own subject, beside the old one
// in the same stream: InventoryReserved (major 1) is published on
// inventory.reserved, InventoryReservedV2 on inventory.reserved.v2. The
// majors of one event make a [Family]; [Event.Convert] moves a payload
// between them through the registered converters (UpcastInventoryReserved,
// DowncastInventoryReserved, ...), so that producers can publish both
// majors while consumers move over, and consumers can read the old one.
//
// The compatibility gate (TestCompatibilityGate) holds the rules over
// examples/, a corpus of example documents for every version, and
// testdata/released.json, the constraints of every released version; see
// README.md beside this file.
//
// # Streams
//
// An [Event] ties an event subject to the stream that stores it and the
// schema of its payload. [Streams] is derived from [Events], so a stream
// always lists exactly the event subjects it stores, and never a request
// subject: a stream that captured orders.create would answer a request
// with a PubAck alongside the service's reply.
//
// # Values
//
// Major 1 amounts are integer euro cents ([V1Currency]); major 2 amounts
// are [Money]. Times are RFC 3339, and identifiers that end up in KV keys
// (order, product and payment ids) are restricted to tokens of
// [A-Za-z0-9_-] joined by single dots, which is exactly what a KV key
// accepts: no dot at either end and no two dots in a row.
//
// The package knows nothing about NATS connections and imports no NATS
// package: the runtime consumes a [*Schema] or an [Event] through small
// interfaces of its own. Schemas compile on first use and are safe for
// concurrent use.
package contracts
