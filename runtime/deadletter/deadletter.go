// Package deadletter holds the wire types of a function's dead-letter
// endpoints, `<fn>.dlq.list` and `<fn>.dlq.replay`, for clients that call
// them (a console, a test, an operator's tool). The runtime serves them.
package deadletter

import (
	"encoding/json"
	"time"
)

// Stream is the JetStream stream that keeps every function's dead letters,
// on "deadletter.<service>.<handler>". A replay waits on
// "deadletter.<service>.<handler>.replay" until its handler ran it.
const Stream = "DEADLETTER"

// Entry is one message a handler gave up on, as `<fn>.dlq.list` shows it.
type Entry struct {
	// Seq is the entry's sequence in the DEADLETTER stream; replay takes it.
	Seq uint64 `json:"seq"`
	// Service and Handler name the event handler that gave up.
	Service string `json:"service"`
	Handler string `json:"handler"`
	// Consumer is the handler's durable consumer, "<service>-<handler>".
	Consumer string `json:"consumer"`
	// Subject, Stream and StreamSeq say where the original message is.
	Subject   string `json:"subject"`
	Stream    string `json:"stream"`
	StreamSeq uint64 `json:"stream_seq"`
	// Deliveries is how many times the handler got the message.
	Deliveries int `json:"deliveries"`
	// Reason is the last error, or why the server gave up.
	Reason string `json:"reason"`
	// Time is when the entry was stored.
	Time time.Time `json:"time"`
	// Header holds the original message's headers.
	Header map[string][]string `json:"headers,omitempty"`
	// Data is the original payload.
	Data json.RawMessage `json:"data"`
}

// ListRequest asks `<fn>.dlq.list` for at most Limit entries, oldest first
// (100 when 0, at most 1000).
type ListRequest struct {
	Limit int `json:"limit,omitempty"`
}

// ListReply lists a function's dead letters, oldest first. Count is how
// many there are in all, which may be more than Entries holds.
type ListReply struct {
	Count   int     `json:"count"`
	Entries []Entry `json:"entries"`
}

// ReplayRequest asks `<fn>.dlq.replay` to hand dead letters back to their
// handler: the entry Seq, or with All every one, a page of at most Limit
// (1000 when 0, at most 10000) per request.
type ReplayRequest struct {
	Seq   uint64 `json:"seq,omitempty"`
	All   bool   `json:"all,omitempty"`
	Limit int    `json:"limit,omitempty"`
}

// ReplayReply lists the DEADLETTER sequences handed back, and how many
// dead letters of the function remain: with All, ask again until it is 0.
type ReplayReply struct {
	Replayed  []uint64 `json:"replayed"`
	Remaining int      `json:"remaining"`
}
