package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/sync/errgroup"
)

// Run starts every service on its own connection, serves until ctx ends,
// then shuts down gracefully within cfg.ShutdownTimeout. It returns nil
// after a clean shutdown.
func Run(ctx context.Context, cfg Config, services ...*Service) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	logger := cfg.NewLogger()
	for _, s := range services {
		if err := s.validate(); err != nil {
			return err
		}
	}
	tel, err := newTelemetry(ctx, cfg, services)
	if err != nil {
		return err
	}
	// Deferred first, so it runs last: spans of the shutdown are flushed too.
	defer func() {
		if err := tel.close(); err != nil {
			logger.Warn("telemetry shutdown", "error", err)
		}
	}()
	ops, err := startOps(cfg, logger, services, tel.handler)
	if err != nil {
		return err
	}
	defer ops.close()

	// Handlers run on a context that outlives ctx: after a signal they
	// finish, and only the shutdown timeout cancels them.
	base, cancelBase := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelBase()

	// Services start together: one may wait for a stream another creates.
	var g errgroup.Group
	for _, s := range services {
		g.Go(func() error { return s.start(ctx, base, cfg, logger, tel) })
	}
	startErr := g.Wait()
	if startErr == nil {
		ops.markStarted()
		<-ctx.Done()
		logger.Info("shutting down", "timeout", cfg.ShutdownTimeout)
	}
	started := services

	done := make(chan error, 1)
	go func() { done <- shutdown(started) }()
	timer := time.NewTimer(cfg.ShutdownTimeout)
	defer timer.Stop()
	select {
	case err := <-done:
		if startErr != nil {
			return errors.Join(startErr, err)
		}
		return err
	case <-timer.C:
		cancelBase()
		for _, s := range started {
			if s.nc != nil {
				s.nc.Close()
			}
		}
		return fmt.Errorf("shutdown: in-flight work did not finish within %s (NATSFN_SHUTDOWN_TIMEOUT)", cfg.ShutdownTimeout)
	}
}

// shutdown stops services in this order: stop taking requests and fetching
// events, finish what is in flight, then drain the connection.
func shutdown(services []*Service) error {
	var g errgroup.Group
	for _, s := range services {
		g.Go(s.stop)
	}
	return g.Wait()
}

// start connects the service and brings it up in dependency order: streams,
// OnStart hooks, dead letters, the micro service, then consumers.
func (s *Service) start(ctx, base context.Context, cfg Config, logger *slog.Logger, tel *telemetry) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return fmt.Errorf("service %s: already running", s.cfg.Name)
	}
	s.running = true
	s.mu.Unlock()

	s.baseCtx = base
	s.handlerCtx = context.WithoutCancel(base)
	s.startTimeout = cfg.ConnectTimeout
	s.logger = withContextAttrs(logger).With("function", s.cfg.Name, "instance", cfg.InstanceID)
	s.tracer = tel.tracers[s]
	s.metrics = tel.metrics
	nc, err := Connect(ctx, cfg, s.cfg.Name, s.logger)
	if err != nil {
		return fmt.Errorf("service %s: %w", s.cfg.Name, err)
	}
	s.nc = nc
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		return fmt.Errorf("service %s: jetstream: %w", s.cfg.Name, err)
	}
	s.js = js
	for _, sc := range s.streams {
		if sc.Replicas == 0 {
			sc.Replicas = cfg.Replicas
		}
		err := s.retryStart(ctx, "stream "+sc.Name, startAttempt, func(ctx context.Context) error {
			_, err := js.CreateOrUpdateStream(ctx, sc)
			return err
		})
		if err != nil {
			return fmt.Errorf("service %s: stream %s: %w", s.cfg.Name, sc.Name, err)
		}
	}
	deps := Deps{Conn: nc, JetStream: js, Logger: s.logger, Replicas: cfg.Replicas, InstanceID: cfg.InstanceID,
		Meter: metricnoop.Meter{}, Tracer: tracenoop.Tracer{}}
	if s.metrics != nil {
		deps.Meter = s.metrics.meter
	}
	if s.tracer != nil {
		deps.Tracer = s.tracer
	}
	for _, fn := range s.onStart {
		err := s.retryStart(ctx, "OnStart", 0, func(ctx context.Context) error { return fn(ctx, deps) })
		if err != nil {
			return fmt.Errorf("service %s: start: %w", s.cfg.Name, err)
		}
	}
	if len(s.events) > 0 {
		err := s.retryStart(ctx, "stream "+DeadLetterStream, startAttempt, func(ctx context.Context) error {
			var err error
			s.dlq, err = openDeadLetters(ctx, s, cfg.Replicas)
			return err
		})
		if err != nil {
			return fmt.Errorf("service %s: %w", s.cfg.Name, err)
		}
		s.dlq.declareEndpoints(s)
	}
	md := map[string]string{"instance": cfg.InstanceID, "runtime": "natsfn"}
	for k, v := range s.cfg.Metadata {
		md[k] = v
	}
	s.micro, err = micro.AddService(nc, micro.Config{
		Name:         s.cfg.Name,
		Version:      s.cfg.Version,
		Description:  s.cfg.Description,
		Metadata:     md,
		StatsHandler: s.statsHandler(),
	})
	if err != nil {
		return fmt.Errorf("service %s: micro: %w", s.cfg.Name, err)
	}
	for _, e := range s.endpoints {
		if err := e.register(s); err != nil {
			return fmt.Errorf("service %s: endpoint %s: %w", s.cfg.Name, e.name, err)
		}
	}
	for _, h := range s.events {
		if cfg.AckWait > 0 {
			h.opts.ackWait = cfg.AckWait
		}
		if err := h.start(ctx, s); err != nil {
			return fmt.Errorf("service %s: handler %s: %w", s.cfg.Name, h.name, err)
		}
	}
	if err := s.registerMetrics(); err != nil {
		return fmt.Errorf("service %s: %w", s.cfg.Name, err)
	}
	if len(s.events) > 0 {
		s.background.Add(1)
		go s.refreshPending()
	}
	// Subscribing only buffers a SUB: flush so that the server routes
	// requests to every endpoint before Ready says it does.
	if err := nc.FlushTimeout(cfg.ConnectTimeout); err != nil {
		return fmt.Errorf("service %s: flush subscriptions: %w", s.cfg.Name, err)
	}
	s.logger.Info("service started", "version", s.cfg.Version, "endpoints", len(s.endpoints), "event_handlers", len(s.events))
	close(s.ready)
	return nil
}

// refreshPending keeps the consumers' pending counts fresh for the stats
// data until shutdown starts.
func (s *Service) refreshPending() {
	defer s.background.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		for _, h := range s.events {
			ctx, cancel := context.WithTimeout(s.baseCtx, time.Second)
			h.refreshPending(ctx)
			cancel()
		}
		select {
		case <-s.stopping():
			return
		case <-t.C:
		}
	}
}

// stopping is closed when shutdown begins.
func (s *Service) stopping() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopCh == nil {
		s.stopCh = make(chan struct{})
	}
	return s.stopCh
}

// stop is the shutdown order for one service.
func (s *Service) stop() error {
	s.mu.Lock()
	if s.stopCh == nil {
		s.stopCh = make(chan struct{})
	}
	close(s.stopCh)
	s.mu.Unlock()

	var errs []error
	if s.micro != nil {
		if err := s.micro.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stop micro: %w", err))
		}
	}
	for _, h := range s.events {
		h.stop()
	}
	if s.dlq != nil {
		s.dlq.close()
	}
	// Run's shutdown timer bounds this wait.
	quiesce(s.baseCtx, s.pools)
	for _, p := range s.pools {
		p.stop()
	}
	s.background.Wait()
	if s.metricsReg != nil {
		if err := s.metricsReg.Unregister(); err != nil {
			errs = append(errs, fmt.Errorf("metrics: %w", err))
		}
	}
	if s.nc != nil {
		if err := s.nc.Drain(); err != nil {
			errs = append(errs, fmt.Errorf("drain: %w", err))
		}
		for !s.nc.IsClosed() {
			time.Sleep(5 * time.Millisecond)
		}
	}
	s.logger.Info("service stopped")
	return errors.Join(errs...)
}

// Main is a function binary's whole main: `healthcheck` as the first
// argument probes the ops port and exits; otherwise it reads the config from
// the environment, runs the services until SIGINT or SIGTERM, and exits 0
// after a clean shutdown or 1 with the reason.
func Main(services ...*Service) {
	os.Exit(MainCode(os.Args[1:], services...))
}

// MainCode is Main without the exit, for tests.
func MainCode(args []string, services ...*Service) int {
	if len(args) > 0 && args[0] == "healthcheck" {
		return Healthcheck(os.Getenv("NATSFN_OPS_ADDR"), args[1:]...)
	}
	cfg, err := LoadConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "natsfn:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, cfg, services...); err != nil {
		fmt.Fprintln(os.Stderr, "natsfn:", err)
		return 1
	}
	return 0
}
