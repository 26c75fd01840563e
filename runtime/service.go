package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
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

// Validate reports the first problem with the config.
func (c ServiceConfig) Validate() error {
	if !nameRe.MatchString(c.Name) {
		return fmt.Errorf("%w: service name %q: use letters, digits, '-' and '_'", ErrConfigValidation, c.Name)
	}
	if !semverRe.MatchString(c.Version) {
		return fmt.Errorf("%w: service %s: version %q is not semver", ErrConfigValidation, c.Name, c.Version)
	}
	return nil
}

// Deps is what a function gets when its service starts: the connection and
// JetStream, for the KV buckets it owns, plus the logger and settings.
type Deps struct {
	// Conn is the service's NATS connection.
	Conn *nats.Conn
	// JetStream is the new jetstream API on Conn.
	JetStream jetstream.JetStream
	// Logger is the service's logger.
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

// Service is one function: a micro service with endpoints and event
// handlers. Declare everything before Run; a Service runs once.
type Service struct {
	cfg        ServiceConfig
	middleware []Middleware
	endpoints  []*endpoint
	events     []*eventHandler
	streams    []jetstream.StreamConfig
	onStart    []func(context.Context, Deps) error
	gauges     []gauge

	ready chan struct{}

	// Set by Run.
	mu      sync.Mutex
	running bool
	nc      *nats.Conn
	js      jetstream.JetStream
	micro   micro.Service
	logger  *slog.Logger
	baseCtx context.Context
	// handlerCtx is baseCtx without its cancellation: the parent of every
	// handler's context.
	handlerCtx context.Context
	// pools run messages; background owns the service's other goroutines.
	pools      []*pool
	background sync.WaitGroup
	dlq        *deadLetters
	stopCh     chan struct{}
	// startTimeout bounds the retries of each start step.
	startTimeout time.Duration
	// tracer is nil when tracing is off, metrics when metrics are off.
	tracer     trace.Tracer
	metrics    *instruments
	metricsReg metric.Registration
}

// NewService declares a function. Its config is validated by Run.
func NewService(cfg ServiceConfig) *Service {
	return &Service{cfg: cfg, ready: make(chan struct{})}
}

// Name returns the service name.
func (s *Service) Name() string { return s.cfg.Name }

// Config returns the service's config.
func (s *Service) Config() ServiceConfig { return s.cfg }

// Use appends middleware to the chain of every endpoint and event handler.
// It runs inside the runtime's own middleware (correlation, logging, recover,
// error mapping, size limit, timeout) and outside schema validation.
func (s *Service) Use(mw ...Middleware) { s.middleware = append(s.middleware, mw...) }

// Stream declares a stream the function publishes to. Run creates or updates
// it; Replicas 0 takes the configured replica count, and Duplicates 0 the
// DefaultDuplicateWindow that makes emits effectively-once. The zero
// Retention and Storage are limits and file.
func (s *Service) Stream(cfg jetstream.StreamConfig) {
	if cfg.Duplicates == 0 {
		cfg.Duplicates = DefaultDuplicateWindow
	}
	s.streams = append(s.streams, cfg)
}

// DefaultDuplicateWindow is how long a stream remembers Nats-Msg-Ids.
const DefaultDuplicateWindow = 2 * time.Minute

// OnStart registers a hook that runs after the streams exist and before any
// endpoint or consumer starts: the place to open KV buckets.
func (s *Service) OnStart(fn func(ctx context.Context, d Deps) error) {
	s.onStart = append(s.onStart, fn)
}

// Ready is closed once the service serves every endpoint and consumer.
func (s *Service) Ready() <-chan struct{} { return s.ready }

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

// chain wraps a handler's core in the service's middleware. The order is
// written here once for both trigger kinds: tracing comes first so that
// every log line has the span; tracing and metrics see the error after
// Recover and MapErrors made it final. Tracing and metrics are left out
// when they are off, so they cost nothing then.
func (s *Service) chain(core Handler, o handlerOptions, site handlerSite, hm *handlerMetrics) Handler {
	mws := []Middleware{Correlate()}
	if s.tracer != nil {
		mws = append(mws, traced(s.tracer, site))
	}
	mws = append(mws, Log(s.logger))
	if hm != nil {
		mws = append(mws, measure(hm))
	}
	mws = append(mws,
		Recover(),
		MapErrors(),
		LimitBytes(o.maxBytes),
		Timeout(o.timeout),
	)
	mws = append(mws, s.middleware...)
	mws = append(mws, Validate())
	return Chain(core, mws...)
}

// metricsFor makes a handler's metric label sets; nil when metrics are off.
func (s *Service) metricsFor(site handlerSite) *handlerMetrics {
	if s.metrics == nil {
		return nil
	}
	return s.metrics.forHandler(s.cfg.Name, site)
}

// validate checks the declarations before anything connects.
func (s *Service) validate() error {
	if err := s.cfg.Validate(); err != nil {
		return err
	}
	for _, g := range s.gauges {
		if !instrumentNameRe.MatchString(g.name) || g.read == nil {
			return fmt.Errorf("%w: service %s: gauge %q: a name of letters, digits and _ . / - and a read func", ErrConfigValidation, s.cfg.Name, g.name)
		}
	}
	seen := map[string]bool{}
	for _, e := range s.endpoints {
		if !tokenRe.MatchString(e.name) {
			return fmt.Errorf("%w: service %s: endpoint name %q", ErrConfigValidation, s.cfg.Name, e.name)
		}
		if seen[e.microName()] {
			return fmt.Errorf("%w: service %s: endpoint %q declared twice", ErrConfigValidation, s.cfg.Name, e.name)
		}
		seen[e.microName()] = true
	}
	for _, h := range s.events {
		if !nameRe.MatchString(h.name) {
			return fmt.Errorf("%w: service %s: event handler name %q", ErrConfigValidation, s.cfg.Name, h.name)
		}
		if seen[h.name] {
			return fmt.Errorf("%w: service %s: handler %q declared twice", ErrConfigValidation, s.cfg.Name, h.name)
		}
		seen[h.name] = true
		if h.opts.maxDeliver > 0 && len(h.opts.backOff) > h.opts.maxDeliver {
			return fmt.Errorf("%w: service %s: handler %s: %d BackOff delays for MaxDeliver %d", ErrConfigValidation, s.cfg.Name, h.name, len(h.opts.backOff), h.opts.maxDeliver)
		}
	}
	return nil
}
