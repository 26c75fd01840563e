package runtime

import (
	"net/textproto"

	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/propagation"
)

// headerCarrier lets an OpenTelemetry propagator read and write W3C trace
// context in NATS headers. It keeps keys as the propagator gives them
// (lowercase traceparent, tracestate, baggage), which is what the server and
// other NATS clients use. propagation.HeaderCarrier would canonicalize them
// to Traceparent and miss the lowercase header on the way in.
type headerCarrier nats.Header

// Get returns the first value of key, trying the key as given, then its
// canonical form (a client that used nats.Header.Set).
func (c headerCarrier) Get(key string) string {
	if vs := c[key]; len(vs) > 0 {
		return vs[0]
	}
	if vs := c[textproto.CanonicalMIMEHeaderKey(key)]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// Set replaces the values of key, keeping the key as given.
func (c headerCarrier) Set(key, value string) { c[key] = []string{value} }

// Keys lists the header keys.
func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

var _ propagation.TextMapCarrier = headerCarrier(nil)

// propagator is W3C TraceContext plus Baggage. It is immutable: the runtime
// never touches otel's global propagator.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
