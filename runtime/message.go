package runtime

import (
	"context"
	"sync"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

// Kind tells which trigger delivered a message.
type Kind int

const (
	// KindRequest is a micro request/reply endpoint call.
	KindRequest Kind = iota + 1
	// KindEvent is a JetStream event delivered to an OnEvent handler.
	KindEvent
)

// String returns "request" or "event".
func (k Kind) String() string {
	switch k {
	case KindRequest:
		return "request"
	case KindEvent:
		return "event"
	}
	return "unknown"
}

// Message is what a trigger hands to the middleware chain: the raw payload
// and its transport facts. Middleware may read it; handlers reach it with
// MessageFrom.
type Message struct {
	// Kind is the trigger kind.
	Kind Kind
	// Service is the name of the function's micro service.
	Service string
	// Handler is the endpoint or event handler name.
	Handler string
	// Subject is the subject the message arrived on (for a replayed dead
	// letter, the subject it first arrived on).
	Subject string
	// Header holds the NATS headers; nil when the message had none.
	Header nats.Header
	// Data is the raw JSON payload.
	Data []byte
	// Schema validates Data; nil when the handler declared none.
	Schema Schema

	// Stream, Sequence, Consumer and Delivered describe a JetStream delivery
	// (KindEvent only). Delivered is 1 on the first delivery. A replayed
	// dead letter keeps the stream, sequence and consumer of the message
	// it was, so that its emits get the same Nats-Msg-Ids; Delivered counts
	// the replay's deliveries.
	Stream    string
	Sequence  uint64
	Consumer  string
	Delivered int

	// correlation follows one business flow across every message: the
	// X-Correlation-ID header when it is a valid one, or one made on first
	// use. made says which.
	correlation     string
	correlationOnce sync.Once
	made            bool
}

// CorrelationID returns the message's correlation id: the X-Correlation-ID
// it arrived with, or a new one made the first time anyone asks, so a
// request that never needs one pays nothing for it. A header over 128
// bytes or with other than visible ASCII is not copied anywhere: an event
// that carries one gets a new id (a request with one is refused).
func (m *Message) CorrelationID() string {
	m.correlationOnce.Do(func() {
		if v := m.HeaderValue(HeaderCorrelationID); validCorrelationID(v) {
			m.correlation = v
			return
		}
		m.correlation = nuid.Next()
		m.made = true
	})
	return m.correlation
}

// HeaderValue returns the first value of a header, or "".
func (m *Message) HeaderValue(key string) string {
	if m == nil || m.Header == nil {
		return ""
	}
	if v := m.Header.Get(key); v != "" {
		return v
	}
	// nats.Header.Get canonicalizes; headers such as traceparent arrive lowercase.
	if vs := m.Header[key]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// ID returns the message's identity for causation: its ce-id or Nats-Msg-Id
// header, or "<stream>:<seq>" for an event without either.
func (m *Message) ID() string {
	if id := m.HeaderValue(headerCEID); id != "" {
		return id
	}
	if id := m.HeaderValue(nats.MsgIdHdr); id != "" {
		return id
	}
	if m.Kind == KindEvent {
		return m.Stream + ":" + uitoa(m.Sequence)
	}
	return ""
}

// MessageFrom returns the message the current handler is serving, or nil
// outside a handler.
func MessageFrom(ctx context.Context) *Message {
	inv := invocationFrom(ctx)
	if inv == nil {
		return nil
	}
	return inv.msg
}
