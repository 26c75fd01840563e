package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// ErrConfigValidation is wrapped by every configuration error the runtime
// reports, for service declarations and environment alike.
var ErrConfigValidation = errors.New("invalid configuration")

// ServiceConfig names and describes a function. It becomes the identity of
// the function's micro service.
type ServiceConfig struct {
	// Name is the micro service name and the prefix of its subjects.
	Name string
	// Version is a semantic version, e.g. "1.2.0".
	Version string
	// Description is shown by `nats micro info`.
	Description string
	// Metadata annotates the service in `nats micro info`.
	Metadata map[string]string
}

var (
	nameRe   = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	semverRe = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$`)
	tokenRe  = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)
)

// Deps is what a function gets when its service starts: the connection and
// JetStream, for the KV buckets it owns, plus the logger and settings.
// Each running instance of a service gets its own.
type Deps struct {
	// Conn is the instance's NATS connection.
	Conn *nats.Conn
	// JetStream is the new jetstream API on Conn.
	JetStream jetstream.JetStream
	// Logger is the instance's logger.
	Logger *slog.Logger
	// Replicas is the replica count for streams and buckets (NATSFN_REPLICAS).
	Replicas int
	// InstanceID identifies this instance (NATSFN_INSTANCE_ID).
	InstanceID string
	// Meter makes the function's own metrics, exported with the runtime's
	// on /metrics; a no-op meter when metrics are off. Service.Gauge is the
	// short way to report one value.
	Meter metric.Meter
	// Tracer makes spans outside a handler (a watcher, a warm-up); inside
	// one, StartSpan is simpler. A no-op tracer when tracing is off.
	Tracer trace.Tracer
}

// Service declares one function: a micro service with endpoints and event
// handlers, the streams it publishes to and what it opens when it starts.
// It is a declaration, as an http.ServeMux is: Start runs it, as often and
// as many times at once as wanted, and never changes it. Declare
// everything before the first Start.
type Service struct {
	cfg        ServiceConfig
	middleware []Middleware
	endpoints  []*endpoint
	events     []*eventHandler
	streams    []jetstream.StreamConfig
	openers    []opener
	gauges     []gauge
}

// opener is something declared on a Service that every running instance
// opens when it starts, after the streams and before any handler: an
// OnStart hook, and the glue of runtime-owned resources (a KV bucket).
// What open returns is kept by the running instance: runFrom(ctx).opened[i]
// from a handler's or a hook's context, i being what addOpener returned.
type opener interface {
	open(ctx context.Context, r *serviceRun) (any, error)
}

// addOpener declares o and returns its index among the service's openers.
func (s *Service) addOpener(o opener) int {
	s.openers = append(s.openers, o)
	return len(s.openers) - 1
}

// NewService declares a function. Its config is validated by Start.
func NewService(cfg ServiceConfig) *Service {
	return &Service{cfg: cfg}
}

// Name returns the service name.
func (s *Service) Name() string { return s.cfg.Name }

// Use appends middleware to the chain of every endpoint and event handler.
// It runs inside the runtime's own middleware (tracing, logging, metrics,
// recover, error mapping, deadline, size limit) and outside validation.
func (s *Service) Use(mw ...Middleware) { s.middleware = append(s.middleware, mw...) }

// Stream declares a stream the function publishes to. Start creates or
// updates it; Replicas 0 takes the configured replica count, and
// Duplicates 0 the DefaultDuplicateWindow that makes emits
// effectively-once. The zero Retention and Storage are limits and file.
// AllowAtomicPublish is always set: EmitAll and a dual phase write
// several events as one atomic batch.
func (s *Service) Stream(cfg jetstream.StreamConfig) {
	if cfg.Duplicates == 0 {
		cfg.Duplicates = DefaultDuplicateWindow
	}
	cfg.AllowAtomicPublish = true
	s.streams = append(s.streams, cfg)
}

// DefaultDuplicateWindow is how long a stream remembers Nats-Msg-Ids.
const DefaultDuplicateWindow = 2 * time.Minute

// OnStart registers a hook that runs after the streams exist and before any
// endpoint or consumer starts: the place to open KV buckets. It runs once
// per running instance, with that instance's Deps; its ctx ends when the
// instance stops, so a watcher started on it lives as long as the instance.
func (s *Service) OnStart(fn func(ctx context.Context, d Deps) error) {
	s.addOpener(startHook(fn))
}

// startHook is an OnStart function.
type startHook func(ctx context.Context, d Deps) error

func (fn startHook) open(ctx context.Context, r *serviceRun) (any, error) {
	return nil, fn(ctx, r.deps())
}

// handlerSite says where a handler sits: its trigger kind, name and subject
// and, for an event handler, its stream and durable consumer. Tracing and
// metrics label their spans and series with it.
type handlerSite struct {
	kind     Kind
	name     string
	subject  string
	stream   string
	consumer string
}

// validate checks the declarations before anything connects.
func (s *Service) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: service %s: %s", ErrConfigValidation, s.cfg.Name, fmt.Sprintf(format, args...))
	}
	if !nameRe.MatchString(s.cfg.Name) {
		return fmt.Errorf("%w: service name %q: use letters, digits, '-' and '_'", ErrConfigValidation, s.cfg.Name)
	}
	if !semverRe.MatchString(s.cfg.Version) {
		return bad("version %q is not semver", s.cfg.Version)
	}
	for _, g := range s.gauges {
		if !validInstrumentName(g.name) || g.read == nil {
			return bad("gauge %q: a name of letters, digits and _ . / - and a read func", g.name)
		}
	}
	seen := map[string]bool{}
	for _, e := range s.endpoints {
		if !tokenRe.MatchString(e.name) {
			return bad("endpoint name %q", e.name)
		}
		if seen[e.microName()] {
			return bad("endpoint %q declared twice", e.name)
		}
		if e.opts.timeout <= 0 {
			return bad("endpoint %s: WithTimeout %s: every request needs a deadline; give a positive one", e.name, e.opts.timeout)
		}
		seen[e.microName()] = true
	}
	for _, h := range s.events {
		if !nameRe.MatchString(h.name) {
			return bad("event handler name %q", h.name)
		}
		if seen[h.name] {
			return bad("handler %q declared twice", h.name)
		}
		seen[h.name] = true
		if h.opts.maxDeliver > 0 && len(h.opts.backOff) > h.opts.maxDeliver {
			return bad("handler %s: BackOff has %d delays and MaxDeliver is %d: only the first %d can ever apply",
				h.name, len(h.opts.backOff), h.opts.maxDeliver, h.opts.maxDeliver)
		}
		if h.opts.maxDeliver == 0 || h.opts.maxDeliver < -1 {
			return bad("handler %s: MaxDeliver %d: give a count of at least 1, or -1 for no limit", h.name, h.opts.maxDeliver)
		}
		if h.opts.ackWait < time.Second {
			return bad("handler %s: AckWait %s is less than 1s", h.name, h.opts.ackWait)
		}
		if err := h.opts.mode.validate(); err != nil {
			return bad("handler %s: %v", h.name, err)
		}
		if err := checkAccepts(h.topic, h.opts.accepts); err != nil {
			return bad("handler %s: %v", h.name, err)
		}
	}
	if len(s.events) > 0 && (seen["dlq-list"] || seen["dlq-replay"]) {
		return bad("the endpoints dlq.list and dlq.replay are the runtime's")
	}
	if seen[schemasEndpoint] {
		return bad("the endpoint %s is the runtime's", schemasEndpoint)
	}
	return nil
}
