package runtime

import (
	"time"

	"github.com/natsfn/natsfn/runtime/deadletter"
)

// ServiceDescription is what a Service declares, as plain data for tools
// that build on the declarations: a generator of deployment manifests (a
// KEDA scaler per consumer), a console, docs. Describe returns it.
type ServiceDescription struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Description string `json:"description,omitempty"`
	// Endpoints are the request/reply endpoints, the runtime's own
	// dlq.list and dlq.replay included when the service has event
	// handlers, and its schemas endpoint.
	Endpoints []EndpointDescription `json:"endpoints"`
	// EventHandlers are the durable event handlers.
	EventHandlers []EventHandlerDescription `json:"event_handlers"`
	// Streams are the streams the service creates when it starts,
	// DEADLETTER included when it has event handlers.
	Streams []StreamDescription `json:"streams"`
}

// EndpointDescription is one endpoint.
type EndpointDescription struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	// Schema is the request's schema id, "" when none is declared.
	Schema      string        `json:"schema,omitempty"`
	Description string        `json:"description,omitempty"`
	Concurrency int           `json:"concurrency"`
	Timeout     time.Duration `json:"timeout_ns"`
	// Emits are the event subjects the endpoint declares it emits.
	Emits []string `json:"emits,omitempty"`
}

// EventHandlerDescription is one event handler and its durable consumer.
type EventHandlerDescription struct {
	Name string `json:"name"`
	// Subject is the event subject consumed, in Stream, through the
	// durable pull consumer Consumer ("<service>-<handler>").
	Subject  string `json:"subject"`
	Stream   string `json:"stream"`
	Consumer string `json:"consumer"`
	// Schema is the event's schema id.
	Schema string `json:"schema"`
	// Accepts are the other majors' subjects the handler reads (Accepts),
	// which its consumer filters too.
	Accepts     []string `json:"accepts,omitempty"`
	Description string   `json:"description,omitempty"`
	// MaxDeliver is -1 when unbounded. AckWait is the handler's own;
	// NATSFN_ACK_WAIT overrides it at run time.
	MaxDeliver  int             `json:"max_deliver"`
	AckWait     time.Duration   `json:"ack_wait_ns"`
	BackOff     []time.Duration `json:"backoff_ns"`
	Concurrency int             `json:"concurrency"`
	// Emits are the event subjects the handler declares it emits.
	Emits []string `json:"emits,omitempty"`
	// PriorityPolicy is "overflow", "pinned" or "prioritized" for a
	// handler declared with that policy, with PinnedTTL for "pinned".
	PriorityPolicy string        `json:"priority_policy,omitempty"`
	PinnedTTL      time.Duration `json:"pinned_ttl_ns,omitempty"`
	// Bound is true for a handler that uses its consumer as the operator
	// made it (Bind): its settings are the consumer's.
	Bound bool `json:"bound,omitempty"`
}

// StreamDescription is a stream the service creates.
type StreamDescription struct {
	Name        string   `json:"name"`
	Subjects    []string `json:"subjects"`
	Description string   `json:"description,omitempty"`
}

// Describe returns what the service declares. It reads the declaration
// only: nothing needs to run, and the result is the same before, during
// and after any number of Starts.
func (s *Service) Describe() ServiceDescription {
	d := ServiceDescription{Name: s.cfg.Name, Version: s.cfg.Version, Description: s.cfg.Description,
		Endpoints: []EndpointDescription{}, EventHandlers: []EventHandlerDescription{}, Streams: []StreamDescription{}}
	endpoints := s.endpoints
	if len(s.events) > 0 {
		endpoints = append(endpoints[:len(endpoints):len(endpoints)], dlqEndpoints(nil, nil)...)
	}
	endpoints = append(endpoints[:len(endpoints):len(endpoints)], (*serviceRun)(nil).schemasEndpointOf())
	for _, e := range endpoints {
		ed := EndpointDescription{Name: e.name, Subject: s.cfg.Name + "." + e.name, Description: e.opts.description,
			Concurrency: e.opts.concurrency, Timeout: e.opts.timeout, Emits: e.opts.emits}
		if e.opts.schema != nil {
			ed.Schema = e.opts.schema.ID()
		}
		d.Endpoints = append(d.Endpoints, ed)
	}
	for _, h := range s.events {
		d.EventHandlers = append(d.EventHandlers, EventHandlerDescription{
			Name: h.name, Subject: h.topic.Subject(), Stream: h.topic.Stream(), Consumer: h.consumerName(s.cfg.Name),
			Schema: h.topic.ID(), Description: h.opts.description, MaxDeliver: h.opts.maxDeliver,
			AckWait: h.opts.ackWait, BackOff: append([]time.Duration{}, h.opts.backOff...), Concurrency: h.opts.concurrency,
			Emits: h.opts.emits, PriorityPolicy: policyName(h.opts.mode.policy), PinnedTTL: h.opts.mode.pinnedTTL,
			Bound: h.opts.mode.bind, Accepts: subjectsOf(h.opts.accepts),
		})
	}
	for _, sc := range s.streams {
		d.Streams = append(d.Streams, StreamDescription{Name: sc.Name, Subjects: append([]string{}, sc.Subjects...), Description: sc.Description})
	}
	if len(s.events) > 0 {
		d.Streams = append(d.Streams, StreamDescription{Name: deadletter.Stream, Subjects: []string{"deadletter.>"},
			Description: deadLetterStreamDescription})
	}
	return d
}

// subjectsOf lists the topics' subjects; nil for none.
func subjectsOf(topics []Topic) []string {
	var out []string
	for _, t := range topics {
		out = append(out, t.Subject())
	}
	return out
}
