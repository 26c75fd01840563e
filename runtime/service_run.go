package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/sync/errgroup"

	"github.com/natsfn/natsfn/runtime/deadletter"
)

// serviceRun is one running instance of a Service: everything Start builds
// for it, and nothing the declaration holds.
type serviceRun struct {
	svc    *Service
	cfg    Config
	logger *slog.Logger
	// tracer and spans are nil when tracing is off, metrics when metrics
	// are off. spans starts the runtime's own spans, tracer the handler's.
	tracer     trace.Tracer
	spans      spanStarter
	metrics    *instruments
	metricsReg metric.Registration

	// base ends when a shutdown overruns; a handler's context has its
	// values and not its cancellation. life ends when the instance stops
	// (or its start is abandoned): OnStart watchers, rebinds and refreshes
	// live on it, and it carries the run.
	base    context.Context
	life    context.Context
	endLife context.CancelFunc

	// began is when Start was called; dialed gives the connection Start
	// began to make (dial).
	began       time.Time
	dialed      <-chan dialed
	nc          *nats.Conn
	js          jetstream.JetStream
	emitter     *emitter
	micro       micro.Service
	endpoints   []*endpointRun
	events      []*eventRun
	eventByName map[string]*eventRun
	// streamMade has a channel per stream the instance makes (the
	// service's and DEADLETTER), closed once it is made (or failed to
	// be): a consumer on it is created after, never while the stream is
	// updated (nats-server's stream update and consumer create race under
	// -race, and the consumer would be made on the old config anyway).
	streamMade map[string]chan struct{}
	// phases are the operator's NATSFN_PHASES, by family.
	phases  map[string]phase
	dlq     *deadLetters
	replays *consumerLoop
	// opened holds what each opener of the Service opened for this run,
	// by index; written during the start only.
	opened []any
	// readers holds the buckets of other functions this run has opened
	// to read (BucketReader), by name and type.
	readers sync.Map
	// pools run messages; background owns the run's other goroutines.
	pools      []quiescer
	background sync.WaitGroup
}

func newServiceRun(base context.Context, s *Service, cfg Config, logger *slog.Logger, tracer trace.Tracer, spans spanStarter, in *instruments) *serviceRun {
	r := &serviceRun{
		svc:         s,
		cfg:         cfg,
		logger:      runLogger(logger, s, cfg),
		tracer:      tracer,
		spans:       spans,
		metrics:     in,
		base:        base,
		eventByName: map[string]*eventRun{},
		phases:      cfg.parsedPhases(),
	}
	life, end := context.WithCancel(base)
	r.life, r.endLife = context.WithValue(life, runKey{}, r), end
	return r
}

// runLogger is the logger of a service's instance: its lines name the
// function and the instance.
func runLogger(logger *slog.Logger, s *Service, cfg Config) *slog.Logger {
	return withContextAttrs(logger).With("function", s.cfg.Name, "instance", cfg.InstanceID)
}

// deps is what an OnStart hook gets.
func (r *serviceRun) deps() Deps {
	d := Deps{Conn: r.nc, JetStream: r.js, Logger: r.logger, Replicas: r.cfg.Replicas, InstanceID: r.cfg.InstanceID,
		Meter: metricnoop.Meter{}, Tracer: tracenoop.Tracer{}}
	if r.metrics != nil {
		d.Meter = r.metrics.meter
	}
	if r.tracer != nil {
		d.Tracer = r.tracer
	}
	return d
}

// chain wraps a handler's core in the middleware. The order is written here
// once for both trigger kinds: tracing comes first so that every log line
// has the span; tracing and metrics see the error after recovered and
// mapErrors made it final. Tracing and metrics are left out when they are
// off, so they cost nothing then.
func (r *serviceRun) chain(core Handler, o handlerOptions, site handlerSite, hm *handlerMetrics) Handler {
	var mws []Middleware
	if r.spans != nil {
		mws = append(mws, traced(r.spans, site))
	}
	mws = append(mws, logged(r.logger))
	if hm != nil {
		mws = append(mws, measure(hm))
	}
	mws = append(mws,
		recovered(),
		mapErrors(),
		bounded(o.timeout),
		limitBytes(o.maxBytes),
	)
	mws = append(mws, r.svc.middleware...)
	mws = append(mws, validated())
	return chain(core, mws...)
}

// metricsFor makes a handler's metric label sets; nil when metrics are off.
func (r *serviceRun) metricsFor(site handlerSite) *handlerMetrics {
	if r.metrics == nil {
		return nil
	}
	return r.metrics.forHandler(r.svc.cfg.Name, site)
}

// start connects and brings the instance up in dependency order: streams,
// openers (OnStart hooks), dead letters, the micro service and its
// endpoints, then consumers. ctx bounds the start; what it starts lives on
// r.life until stop.
func (r *serviceRun) start(ctx context.Context) error {
	abandon := context.AfterFunc(ctx, r.endLife)
	defer abandon()
	if err := r.bringUp(r.life); err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("%w (%w)", err, ctx.Err())
		}
		return fmt.Errorf("service %s: %w", r.svc.cfg.Name, err)
	}
	return nil
}

func (r *serviceRun) bringUp(ctx context.Context) error {
	d := <-r.dialed
	if d.err != nil {
		return d.err
	}
	nc := d.nc
	r.nc = nc
	var err error
	if r.js, err = jetstream.New(nc, jetstream.WithPublishAsyncTimeout(10*time.Second)); err != nil {
		return fmt.Errorf("jetstream: %w", err)
	}
	if r.emitter, err = newEmitter(nc); err != nil {
		return err
	}
	// The handlers first: building them needs no NATS, and their consumers
	// are opened while the streams are made and the start hooks run.
	r.streamMade = make(map[string]chan struct{}, len(r.svc.streams)+1)
	for _, sc := range r.svc.streams {
		r.streamMade[sc.Name] = make(chan struct{})
	}
	if len(r.svc.events) > 0 {
		r.streamMade[deadletter.Stream] = make(chan struct{})
	}
	for _, h := range r.svc.events {
		e := r.newEventRun(h)
		r.events = append(r.events, e)
		r.eventByName[h.name] = e
		e.loop.prepare(ctx)
	}
	for _, e := range r.svc.endpoints {
		r.endpoints = append(r.endpoints, r.newEndpointRun(e))
	}
	var g errgroup.Group
	g.Go(func() error { return r.openOwn(ctx) })
	if len(r.events) > 0 {
		// The replays' consumer is read while DEADLETTER is made, as a
		// handler's consumer is while its stream is (consumerLoop.prepare).
		r.dlq = &deadLetters{run: r}
		r.replays = r.dlq.replayLoop()
		r.replays.prepare(ctx)
		g.Go(func() error {
			defer close(r.streamMade[deadletter.Stream])
			return r.retryStart(ctx, "stream "+deadletter.Stream, startAttempt, r.dlq.open)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if r.dlq != nil {
		for _, e := range dlqEndpoints(typed(r.dlq.list), typed(r.dlq.replay)) {
			r.endpoints = append(r.endpoints, r.newEndpointRun(e))
		}
	}
	r.endpoints = append(r.endpoints, r.newEndpointRun(r.schemasEndpointOf()))
	md := map[string]string{"instance": r.cfg.InstanceID, "runtime": "natsfn"}
	for k, v := range r.svc.cfg.Metadata {
		md[k] = v
	}
	r.micro, err = micro.AddService(nc, micro.Config{
		Name:         r.svc.cfg.Name,
		Version:      r.svc.cfg.Version,
		Description:  r.svc.cfg.Description,
		Metadata:     md,
		StatsHandler: r.statsHandler(),
	})
	if err != nil {
		return fmt.Errorf("micro: %w", err)
	}
	for _, e := range r.endpoints {
		if err := e.register(); err != nil {
			return fmt.Errorf("endpoint %s: %w", e.name, err)
		}
	}
	for _, e := range r.events {
		if err := e.start(ctx); err != nil {
			return fmt.Errorf("handler %s: %w", e.name, err)
		}
	}
	if r.replays != nil {
		if err := r.retryStart(ctx, "consumer "+r.replays.cfg.Durable, 0, r.replays.bind); err != nil {
			return fmt.Errorf("dead-letter replays: %w", err)
		}
	}
	if err := r.registerMetrics(); err != nil {
		return err
	}
	if len(r.events) > 0 {
		r.background.Add(1)
		go r.pollPending()
	}
	// Subscribing only buffers a SUB: flush so that the server routes
	// requests to every endpoint before Start says it does.
	if err := nc.FlushTimeout(r.cfg.ConnectTimeout); err != nil {
		return fmt.Errorf("flush subscriptions: %w", err)
	}
	r.logger.Info("service started", "version", r.svc.cfg.Version, "endpoints", len(r.svc.endpoints), "event_handlers", len(r.events),
		"startup", time.Since(r.began).Round(time.Microsecond))
	return nil
}

// openOwn makes the service's streams and buckets, all at once, then runs
// its OnStart hooks in the order they were declared, each once the buckets
// declared before it are open. A bucket depends on nothing but the
// connection: opening the buckets one after the other, after the streams,
// cost a start one JetStream round trip per bucket (issue 12.7).
func (r *serviceRun) openOwn(ctx context.Context) error {
	type opened struct {
		v   any
		err error
	}
	early := make([]chan opened, len(r.svc.openers))
	for i, o := range r.svc.openers {
		if _, ok := o.(startHook); ok {
			continue
		}
		early[i] = make(chan opened, 1)
		go func() {
			var v any
			err := r.retryStart(ctx, "open", 0, func(ctx context.Context) (err error) {
				v, err = o.open(ctx, r)
				return err
			})
			early[i] <- opened{v, err}
		}()
	}
	var g errgroup.Group
	for _, sc := range r.svc.streams {
		if sc.Replicas == 0 {
			sc.Replicas = r.cfg.Replicas
		}
		retention(&sc, r.cfg.StreamMaxAge, r.cfg.StreamMaxBytes)
		g.Go(func() error {
			if made, ok := r.streamMade[sc.Name]; ok {
				defer close(made)
			}
			err := r.retryStart(ctx, "stream "+sc.Name, startAttempt, func(ctx context.Context) error {
				_, err := ensureStream(ctx, r.js, sc)
				return err
			})
			if err != nil {
				return fmt.Errorf("stream %s: %w", sc.Name, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	r.opened = make([]any, len(r.svc.openers))
	for i, o := range r.svc.openers {
		var v any
		var err error
		if early[i] != nil {
			o := <-early[i]
			v, err = o.v, o.err
		} else {
			err = r.retryStart(ctx, "OnStart", 0, func(ctx context.Context) (err error) {
				v, err = o.open(ctx, r)
				return err
			})
		}
		if err != nil {
			return fmt.Errorf("start: %w", err)
		}
		r.opened[i] = v
	}
	return nil
}

// pausedRefresh is how often pollPending looks at a consumer last seen
// paused, so that a resume is noticed soon (consumerLoop.kick).
const pausedRefresh = 100 * time.Millisecond

// checkReady checks one instance: connected, JetStream answering,
// consumers bound.
func (r *serviceRun) checkReady(ctx context.Context) error {
	if r.nc == nil || !r.nc.IsConnected() {
		return errors.New("NATS disconnected")
	}
	if _, err := r.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("JetStream: %w", err)
	}
	for _, e := range r.events {
		if !e.loop.bound() {
			return fmt.Errorf("consumer %s not bound", e.consumer)
		}
	}
	if r.replays != nil && !r.replays.bound() {
		return fmt.Errorf("consumer %s not bound", r.replays.cfg.Durable)
	}
	return nil
}

// settlePulls holds every consumer loop (no more pull requests) and waits
// for the server to deliver what it already took for the last ones, before
// stop unsubscribes them. nats-server checks a pull request's interest when
// it takes a message for it (consumer.nextWaiting), and sends the message
// after that: on a single server through the stream's send queue, on a
// cluster only once the delivery is replicated (replicateDeliveries). A
// message taken just before the unsubscribe arrives after it, goes to no
// one, and waits out its AckWait (30 s by default) before any instance sees
// it again. nats.go's Drain unsubscribes at once, and its Consume sends a
// pull whenever half its batch is handed over, so a stop during a backlog
// stranded a batch: 2 stops of 60 on a 3-node cluster (5 messages each),
// 1 of the CI runs of TestGracefulShutdownSettlesEmits, and every stop
// with 5 ms between the nodes (TestStopStrandsNothing). Held, the loops'
// last pulls are served within a replication round, which pullSettleFor
// covers; an idle consumer's open pull can still take a message published
// in the instant of the unsubscribe, which only its expiry would close.
func (r *serviceRun) settlePulls() {
	held := false
	for _, e := range r.events {
		held = e.loop.hold() || held
	}
	if r.replays != nil {
		held = r.replays.hold() || held
	}
	if !held || r.nc == nil {
		return
	}
	// The flush returns once the server has read the last pulls; how long
	// it took says how loaded the machine and the server are.
	t0 := time.Now()
	_ = r.nc.FlushTimeout(time.Second)
	time.Sleep(pullSettleFor(time.Since(t0)))
}

// pullSettleFor is how long a stop waits for the server to deliver what it
// took for a held loop's last pulls, after a flush that took rtt: a
// replication round of the consumer's cluster, even a loaded one. A fixed
// 50 ms stranded 5 messages in a CI run with the machine loaded by the
// container suites beside it (TestStopStrandsNothing, 5 ms between the
// nodes); the wait now starts at 150 ms and grows with the flush's round
// trip, which load stretches as it stretches replication, up to 1 s.
func pullSettleFor(rtt time.Duration) time.Duration {
	return min(150*time.Millisecond+10*rtt, time.Second)
}

// stop is the shutdown order for one instance: stop taking requests and
// fetching events, finish what is in flight, then drain the connection.
func (r *serviceRun) stop() error {
	r.endLife()
	var errs []error
	if r.micro != nil {
		if err := r.micro.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop micro: %w", err))
		}
	}
	r.settlePulls()
	for _, e := range r.events {
		e.loop.stop()
	}
	if r.replays != nil {
		r.replays.stop()
	}
	if r.dlq != nil {
		r.dlq.close()
	}
	// The instance's shutdown timer bounds this wait.
	quiesce(r.base, r.pools)
	for _, p := range r.pools {
		p.stop()
	}
	r.background.Wait()
	if r.metricsReg != nil {
		if err := r.metricsReg.Unregister(); err != nil {
			errs = append(errs, fmt.Errorf("metrics: %w", err))
		}
	}
	if r.nc != nil {
		if err := r.nc.Drain(); err != nil {
			errs = append(errs, fmt.Errorf("drain: %w", err))
			r.nc.Close()
		}
		for !r.nc.IsClosed() {
			time.Sleep(5 * time.Millisecond)
		}
	}
	r.logger.Info("service stopped")
	if len(errs) > 0 {
		return fmt.Errorf("service %s: %w", r.svc.cfg.Name, errors.Join(errs...))
	}
	return nil
}

// retention sets a stream's MaxAge and MaxBytes where its declaration left
// them zero; a negative limit leaves them so (no limit).
func retention(sc *jetstream.StreamConfig, age time.Duration, bytes int64) {
	if sc.MaxAge == 0 && age > 0 {
		sc.MaxAge = age
	}
	if sc.MaxBytes == 0 && bytes > 0 {
		sc.MaxBytes = bytes
	}
}
