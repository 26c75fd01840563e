// Package runtime turns plain Go functions into NATS services: request/reply
// endpoints on nats.go/micro and durable JetStream event handlers, with one
// middleware chain, dead letters, deterministic emits, config, health and a
// graceful shutdown around them. It knows nothing of any business domain.
//
// A complete function serves greet.hello and counts orders.created events
// (Example runs it against an embedded server):
//
//	func hello(ctx context.Context, in Hello) (Greeting, error) {
//		if in.Name == "" {
//			return Greeting{}, runtime.Errorf(runtime.ErrInvalid, "name is required")
//		}
//		return Greeting{Text: "hello " + in.Name}, nil
//	}
//
//	func count(ctx context.Context, ev contracts.OrderCreatedEvent) error {
//		return nil // runtime.MessageFrom(ctx) has the delivery
//	}
//
//	func main() {
//		svc := runtime.NewService(runtime.ServiceConfig{Name: "greet", Version: "1.0.0"})
//		runtime.Endpoint(svc, "hello", hello)
//		runtime.OnEvent(svc, "count", contracts.OrderCreated, count, runtime.MaxDeliver(3))
//		runtime.Main(svc) // env config, connect, serve, drain on SIGTERM
//	}
//
// # Declaring and running
//
// A Service is a declaration, as an http.ServeMux is: its endpoints, event
// handlers, streams, OnStart hooks and gauges. Start runs services and
// returns an Instance once they serve, and Instance.Stop shuts them down;
// Run is Start, then Stop when its context ends, and Main is Run with the
// config read from the environment and SIGTERM handled. Running never
// changes a Service, so one can run in several instances at once, and
// Service.Describe reads the declaration for tools (manifests, a console).
//
// # Endpoints
//
// Endpoint(svc, "hello", fn) serves "<service>.hello" as a micro endpoint, so
// `nats micro ls|info|stats|ping` show it and instances share requests
// through micro's queue group. The request is decoded from JSON (validated
// first when WithSchema is given) and the reply encoded to JSON. An error
// wrapping ErrInvalid, ErrNotFound, ErrConflict, ErrTooLarge, ErrUnavailable
// or ErrDeadline becomes a micro error with code 400, 404, 409, 413, 503 or
// 504 in the
// Nats-Service-Error-Code header, a description in Nats-Service-Error, and an
// ErrorBody as JSON; anything else, and a panic, is a 500. A failed call to
// NATS is reported with Unavailable: the caller reads what could not be
// done, the log line why.
//
// Every request has a deadline: the caller's Natsfn-Deadline header
// (HeaderDeadline, an RFC 3339 UTC time), or else the endpoint's
// WithTimeout (5s by default) after the request reached the instance. An
// endpoint queues its requests, with the time each arrived, for its
// workers (Concurrency, 1 by default); a full queue is a 503 at once, and
// a request still queued when its deadline is near is a 504 (ErrDeadline)
// and runs nothing. The handler's context ends a little before the
// deadline, so the caller gets the handler's 503 rather than a time-out,
// and nothing the runtime does for the handler (an Emit, a KV write, a
// Request) starts after it. Request calls another function's endpoint with
// the handler's deadline, correlation id and trace context.
//
// A payload that is not UTF-8, a request whose X-Correlation-ID is not 1 to
// 128 visible ASCII characters, and a payload its schema rejects are 400s
// before the handler runs. A number written 1.0 or 1e0 decodes into an
// integer field, as JSON Schema counts it an integer.
//
// # Event handlers
//
// OnEvent(svc, "count", topic, fn) consumes the topic's subject through the
// durable pull consumer "<service>-count" with explicit acks; fn returns only
// an error. A nil error acks. A permanent error (4xx, or Permanent) is
// terminated and dead-lettered at once; another error is redelivered after
// the BackOff delay (NakWithDelay) until MaxDeliver, then dead-lettered. A
// message whose last delivery timed out is dead-lettered from the server's
// MAX_DELIVERIES advisory. Options fit their kind: EventOption (AckWait,
// MaxDeliver, BackOff) for event handlers, EndpointOption (WithSchema) for
// endpoints, and Option (WithTimeout, Concurrency, MaxBytes, Description)
// for both.
//
// Dead letters are kept in the DEADLETTER stream with their original headers
// and payload, the reason, the handler and the delivery count; `nats req
// <svc>.dlq.list '{}'` lists them and `nats req <svc>.dlq.replay '{"seq":N}'`
// (or '{"all":true}', a page at a time) hands one back to its handler,
// through the same stream: package deadletter has the wire types.
//
// A handler emits events with Emit(ctx, topic, v). Each is validated and
// published with a Nats-Msg-Id derived from the triggering message, so a
// redelivery's re-publish is dropped by the stream's duplicate window.
// Events carry the correlation id, the causation id and CloudEvents
// attributes in their headers. An event handler does not wait for the
// stream: its emits are pipelined, and the trigger is acked only once every
// one is stored; a failed publish is retried with the same Nats-Msg-Id
// until the handler's bound, then the trigger is retried like a failed
// handler. The handler's context waits for its emits before it answers Err
// or Done, so its next NATS, KV or HTTP call starts only once they are
// stored; Flush waits explicitly. In an endpoint, Emit returns once the
// event is stored.
//
// EmitAll writes several events of one stream as one JetStream atomic
// batch. An event that changed in a breaking way has a new major on its
// own subject: a producer declares both majors in Emits, and the
// operator's NATSFN_PHASES (Config.Phases) decides whether an emit
// publishes major 1, both (one atomic batch) or major 2, converted by the
// contracts. A consumer declares the other majors it reads with Accepts:
// they are converted to the handler's major, and a pair published at once
// is handled once. Each service answers <service>.schemas with the JSON
// Schemas it consumes and produces (Schemas).
//
// Every event handler is also listed as an endpoint of the service, and its
// figures (EventFigures: delivered, acked, naked, terminated, redelivered,
// dead-lettered, pending, processing time) are the endpoint's data in `nats
// micro stats`.
//
// # Middleware
//
// Both trigger kinds run one chain, written in one place: tracing, logging,
// metrics, panic recovery, error mapping, deadline, size limit, the
// service's own middleware (Service.Use), then validation and the handler.
// Tracing and metrics are left out of the chain when they are off.
//
// # Observability
//
// Tracing is on when an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; OTLP over HTTP), or with
// OTEL_TRACES_EXPORTER=console or NATSFN_TRACES=stdout; otherwise it is off
// and costs nothing. Config reads every OTEL_* variable. A request runs in a
// server span and an event in a consumer span, each a child of the W3C
// traceparent the message carries; Emit and dead letters are producer spans
// whose traceparent goes into the published headers, so one order is one
// trace across functions. StartSpan and EndSpan wrap a handler's own work
// (a KV write, a gateway call), and TraceKV every write of a bucket.
//
// Metrics are OpenTelemetry instruments served in Prometheus text format on
// the ops port at /metrics: messages handled, errors by code, latency,
// redeliveries, acks, naks, terminations, dead letters, consumer pending
// counts and the NATS connection; Service.Gauge adds a function's own value
// (a circuit breaker's state). Config.TracerProvider and
// Config.MeterProvider let a test or a main bring its own providers; the
// runtime never sets otel's globals. Config.OpsHandlers serves more on the
// ops port (a web console).
//
// Every line a handler logs with its context through Deps.Logger names the
// function, handler, correlation_id, trace_id and span_id. runtime/README.md
// lists every span attribute and metric.
//
// # Running
//
// Main reads Config from the environment (NATS_URL, NATS_USER, ...,
// NATSFN_*, OTEL_*; see Config) and exits non-zero naming any bad variable.
// Start connects each service on its own connection, whose replies arrive on
// its own inbox prefix "_INBOX_<service>" (retrying the first connection,
// reconnecting forever), creates the declared streams and consumers
// idempotently, serves the ops HTTP port (/healthz, /readyz, /metrics), and
// Stop stops taking work, finishes what is in flight and drains the
// connections.
//
// Package embedded runs a nats-server in-process; package fntest helps test
// functions against it.
package runtime
