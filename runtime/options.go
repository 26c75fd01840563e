package runtime

import (
	"time"
)

// EndpointOption tunes an endpoint (Endpoint).
type EndpointOption interface{ endpoint(*endpointOptions) }

// EventOption tunes an event handler (OnEvent).
type EventOption interface{ event(*eventOptions) }

// Option tunes either kind of handler. An option that fits only one kind
// is only that kind's option type, so using it on the other does not
// compile, as jetstream's PullMaxMessages is both a PullConsumeOpt and a
// PullMessagesOpt.
type Option interface {
	EndpointOption
	EventOption
}

// handlerOptions are what both kinds have.
type handlerOptions struct {
	timeout     time.Duration
	concurrency int
	maxBytes    int
	description string
	// emits lists the subjects the handler may emit (Emits); empty means
	// undeclared, and then any. emitTopics are the same, as declared.
	emits      []string
	emitTopics []Topic
}

type endpointOptions struct {
	handlerOptions
	schema Schema
}

type eventOptions struct {
	handlerOptions
	ackWait       time.Duration
	maxDeliver    int
	backOff       []time.Duration
	backOffGiven  bool
	maxAckPending int
	// mode is a priority policy or Bind (priority.go).
	mode consumerMode
	// accepts are the other majors of the handler's event it reads
	// (Accepts), converted to the handler's own.
	accepts []Topic
}

// Defaults for handlers that set nothing.
const (
	// defaultEndpointTimeout is a request's deadline when its caller sends
	// none: the usual client timeout (nats.go's and the nats CLI's 5s), so
	// that no handler works on for a caller that gave up.
	defaultEndpointTimeout = 5 * time.Second
	// defaultEventTimeout bounds an event handler, its emits' retries
	// included: long enough to ride out a stream-leader election (4-9s).
	defaultEventTimeout = 10 * time.Second
	// defaultEventConcurrency is how many events one instance handles at
	// once. Endpoints default to one request at a time (see Concurrency).
	defaultEventConcurrency = 64
	defaultMaxBytes         = 1 << 20
	defaultAckWait          = 30 * time.Second
	defaultMaxDeliver       = 5
	defaultMaxAckPending    = 256
)

// defaultBackOff is the redelivery schedule after transient failures; it is
// cut to the handler's MaxDeliver.
var defaultBackOff = []time.Duration{time.Second, 5 * time.Second, 15 * time.Second, 30 * time.Second}

func newEndpointOptions(opts []EndpointOption) endpointOptions {
	o := endpointOptions{handlerOptions: handlerOptions{timeout: defaultEndpointTimeout, maxBytes: defaultMaxBytes}}
	for _, opt := range opts {
		opt.endpoint(&o)
	}
	if o.concurrency == 0 {
		o.concurrency = 1
	}
	return o
}

func newEventOptions(opts []EventOption) eventOptions {
	o := eventOptions{
		handlerOptions: handlerOptions{timeout: defaultEventTimeout, maxBytes: defaultMaxBytes},
		ackWait:        defaultAckWait,
		maxDeliver:     defaultMaxDeliver,
		maxAckPending:  defaultMaxAckPending,
	}
	o.concurrency = defaultEventConcurrency
	for _, opt := range opts {
		opt.event(&o)
	}
	if !o.backOffGiven {
		o.backOff = defaultBackOff
		if o.maxDeliver > 0 && len(o.backOff) > o.maxDeliver {
			o.backOff = o.backOff[:o.maxDeliver]
		}
	}
	return o
}

// both is an option of either kind.
type both func(*handlerOptions)

func (f both) endpoint(o *endpointOptions) { f(&o.handlerOptions) }
func (f both) event(o *eventOptions)       { f(&o.handlerOptions) }

// endpointOnly and eventOnly are options of one kind.
type (
	endpointOnly func(*endpointOptions)
	eventOnly    func(*eventOptions)
)

func (f endpointOnly) endpoint(o *endpointOptions) { f(o) }
func (f eventOnly) event(o *eventOptions)          { f(o) }

// WithSchema validates an endpoint's request against s before the handler
// runs. Event handlers take their schema from the Topic.
func WithSchema(s Schema) EndpointOption {
	return endpointOnly(func(o *endpointOptions) { o.schema = s })
}

// WithTimeout bounds a handler. For an endpoint it is a request's deadline
// when the caller sends none (HeaderDeadline), counted from when the
// request reached the instance, time queued included, and the longest any
// caller's deadline may be: 5s by default, the usual client timeout; it
// must be positive. The handler's context ends a little before the
// deadline (at 4.75s of 5s), so that the caller gets its 503 rather than
// a time-out, and a request still queued at that point is answered 504
// without running. For an event handler it bounds each delivery from its
// start, its emits' retries included (default 10s; 0 means none).
func WithTimeout(d time.Duration) Option { return both(func(o *handlerOptions) { o.timeout = d }) }

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
// An event handler defaults to 64, bounded by its consumer's 256
// messages awaiting an ack across all instances.
func Concurrency(n int) Option { return both(func(o *handlerOptions) { o.concurrency = max(n, 1) }) }

// MaxBytes rejects larger payloads with a 413 (default 1 MiB).
func MaxBytes(n int) Option { return both(func(o *handlerOptions) { o.maxBytes = n }) }

// Emits declares the events a handler emits. They show in its micro
// endpoint metadata ("emits", comma-separated subjects) and in Describe,
// so that `nats micro info`, the console and generated docs show who
// produces what; and Emit refuses, as a bug, a topic the handler did not
// declare. A handler that declares nothing may emit anything.
func Emits(topics ...Topic) Option {
	return both(func(o *handlerOptions) {
		for _, t := range topics {
			o.emits = append(o.emits, t.Subject())
			o.emitTopics = append(o.emitTopics, t)
		}
	})
}

// Description describes the handler in its micro endpoint metadata.
func Description(s string) Option { return both(func(o *handlerOptions) { o.description = s }) }

// AckWait is how long the server waits for an ack before redelivering
// (default 30s; NATSFN_ACK_WAIT overrides it for every handler). Long
// handlers are kept alive with InProgress.
func AckWait(d time.Duration) EventOption {
	return eventOnly(func(o *eventOptions) { o.ackWait = d })
}

// MaxDeliver is how many deliveries a message gets before it is
// dead-lettered (default 5; -1 means no limit).
func MaxDeliver(n int) EventOption {
	return eventOnly(func(o *eventOptions) { o.maxDeliver = n })
}

// BackOff is the redelivery delay after the 1st, 2nd, ... transient failure;
// the last value repeats. It drives NakWithDelay, since the server's own
// consumer BackOff applies to ack timeouts only. The default is 1s, 5s,
// 15s, 30s, cut to MaxDeliver; a BackOff longer than MaxDeliver is a
// configuration error, since its tail could never apply.
func BackOff(delays ...time.Duration) EventOption {
	delays = append([]time.Duration(nil), delays...)
	return eventOnly(func(o *eventOptions) { o.backOff, o.backOffGiven = delays, true })
}

// delayFor returns the BackOff delay after the given delivery.
func (o eventOptions) delayFor(delivered int) time.Duration {
	if len(o.backOff) == 0 {
		return 0
	}
	i := min(max(delivered-1, 0), len(o.backOff)-1)
	return o.backOff[i]
}

// Accepts declares the other majors of the handler's event that it reads,
// e.g. OnEvent(svc, "charge", contracts.InventoryReservedV2, fn,
// Accepts(contracts.InventoryReserved)): its consumer then filters both
// subjects, and an event of another major is converted to the handler's
// own through the contracts' converters (an upcast from major 1, or a
// downcast from a later one) after it was validated as its producer sent
// it. An event published in both majors at once (a producer at phase
// dual) is handled once, in the handler's own major. Each topic must be a
// major of the same family as the handler's (contracts.Event is).
func Accepts(topics ...Topic) EventOption {
	topics = append([]Topic(nil), topics...)
	return eventOnly(func(o *eventOptions) { o.accepts = append(o.accepts, topics...) })
}
