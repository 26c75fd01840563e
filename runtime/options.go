package runtime

import (
	"time"
)

// Option tunes one endpoint or event handler. Options that do not apply to a
// trigger kind are ignored by it.
type Option func(*handlerOptions)

type handlerOptions struct {
	schema        Schema
	timeout       time.Duration
	concurrency   int
	maxBytes      int
	metadata      map[string]string
	description   string
	ackWait       time.Duration
	maxDeliver    int
	backOff       []time.Duration
	maxAckPending int
}

// Defaults for handlers that set nothing.
const (
	DefaultTimeout = 10 * time.Second
	// DefaultEventConcurrency is how many events one instance handles at
	// once. Endpoints default to one request at a time (see Concurrency).
	DefaultEventConcurrency = 64
	DefaultMaxBytes         = 1 << 20
	DefaultAckWait          = 30 * time.Second
	DefaultMaxDeliver       = 5
	DefaultMaxAckPending    = 256
)

// DefaultBackOff is the redelivery schedule after transient failures.
var defaultBackOff = []time.Duration{time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second}

func newHandlerOptions(opts []Option) handlerOptions {
	o := handlerOptions{
		timeout:       DefaultTimeout,
		maxBytes:      DefaultMaxBytes,
		ackWait:       DefaultAckWait,
		maxDeliver:    DefaultMaxDeliver,
		backOff:       defaultBackOff,
		maxAckPending: DefaultMaxAckPending,
	}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// WithSchema validates an endpoint's request against s before the handler
// runs. Event handlers take their schema from the Topic.
func WithSchema(s Schema) Option { return func(o *handlerOptions) { o.schema = s } }

// WithTimeout bounds each call of the handler (default 10s; 0 means none).
func WithTimeout(d time.Duration) Option { return func(o *handlerOptions) { o.timeout = d } }

// Concurrency sets how many messages one instance handles at once.
//
// An endpoint defaults to 1: requests run one at a time on micro's own
// subscription goroutine, as in a bare micro service, and micro counts
// errors and processing time itself. That is the fastest choice for a
// handler that only computes. A handler that waits (on JetStream, KV or a
// remote call) should set a pool, e.g. Concurrency(64): requests then run
// on that many workers, and the runtime's own figures in the endpoint's
// stats data stay honest. runtime/README.md has the measurements.
//
// An event handler defaults to DefaultEventConcurrency, bounded by
// MaxAckPending.
func Concurrency(n int) Option { return func(o *handlerOptions) { o.concurrency = max(n, 1) } }

// MaxBytes rejects larger payloads with a 413 (default 1 MiB).
func MaxBytes(n int) Option { return func(o *handlerOptions) { o.maxBytes = n } }

// Metadata annotates the endpoint in `nats micro info`.
func Metadata(md map[string]string) Option { return func(o *handlerOptions) { o.metadata = md } }

// Description describes the handler in its micro endpoint metadata.
func Description(s string) Option { return func(o *handlerOptions) { o.description = s } }

// AckWait is how long the server waits for an ack before redelivering
// (default 30s). Long handlers send InProgress to extend it.
func AckWait(d time.Duration) Option { return func(o *handlerOptions) { o.ackWait = d } }

// MaxDeliver is how many deliveries a message gets before it is
// dead-lettered (default 5).
func MaxDeliver(n int) Option { return func(o *handlerOptions) { o.maxDeliver = n } }

// BackOff is the redelivery delay after the 1st, 2nd, ... transient failure;
// the last value repeats. It drives NakWithDelay, since the server's own
// consumer BackOff applies to ack timeouts only.
func BackOff(delays ...time.Duration) Option {
	return func(o *handlerOptions) { o.backOff = append([]time.Duration(nil), delays...) }
}

// MaxAckPending bounds the messages delivered and not yet acked across all
// instances (default 256).
func MaxAckPending(n int) Option { return func(o *handlerOptions) { o.maxAckPending = n } }

// delayFor returns the BackOff delay after the given delivery.
func (o handlerOptions) delayFor(delivered int) time.Duration {
	if len(o.backOff) == 0 {
		return 0
	}
	i := min(max(delivered-1, 0), len(o.backOff)-1)
	return o.backOff[i]
}
