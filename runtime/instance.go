package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/natsfn/natsfn/runtime/internal/ops"
)

// Instance is a set of services running in this process: what Start
// returns. Its Stop shuts them down.
type Instance struct {
	cfg    Config
	logger *slog.Logger
	runs   []*serviceRun
	tel    *telemetry
	ops    *ops.Server
	// cancel ends base, the hard stop of a shutdown that overran.
	cancel context.CancelFunc
	state  atomic.Value // "starting", "" (serving) or "stopping": what /readyz says

	once sync.Once
	err  error
}

// Start runs services: each connects on its own connection, creates its
// streams and consumers idempotently, runs its OnStart hooks and serves,
// and the ops port (when Config.OpsAddr is set) serves /healthz, /readyz
// and /metrics. Start returns once every service serves; ctx bounds the
// start only. A declaration or config error is returned before anything
// connects, wrapping ErrConfigValidation; one in the telemetry settings
// (OTEL_*) or the ops port is found while the connections are being made,
// and Start closes them before it returns it. Each service logs "service
// started" once it serves, with startup, the time since Start was called.
//
// The same *Service may run in several Instances at once: each has its own
// connection, consumers, pools and figures, and none changes the Service.
func Start(ctx context.Context, cfg Config, services ...*Service) (*Instance, error) {
	began := time.Now()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(services) == 0 {
		return nil, fmt.Errorf("%w: no service to run", ErrConfigValidation)
	}
	phases := cfg.parsedPhases()
	for _, s := range services {
		if err := s.validate(); err != nil {
			return nil, err
		}
		if err := s.checkPhases(phases); err != nil {
			return nil, err
		}
	}
	if err := checkRoles(cfg, services); err != nil {
		return nil, err
	}
	logger := cfg.newLogger()
	for family, p := range phases {
		if !slices.ContainsFunc(services, func(s *Service) bool { return s.produces(family) }) {
			logger.Warn("NATSFN_PHASES names an event no handler here declares in Emits; ignored", "family", family, "phase", p.String())
		}
	}
	// Each service dials NATS now, while the telemetry and the ops port
	// are set up: they need no connection, and a connection in a
	// container takes a name lookup and three round trips (issue 12.7).
	dialCtx, cancelDials := context.WithCancel(ctx)
	defer cancelDials()
	dials := make([]<-chan dialed, len(services))
	for n, s := range services {
		dials[n] = dial(dialCtx, cfg, s.cfg.Name, runLogger(logger, s, cfg))
	}
	abandon := func() {
		cancelDials()
		for _, d := range dials {
			if c := <-d; c.nc != nil {
				c.nc.Close()
			}
		}
	}
	tel, err := newTelemetry(ctx, cfg, services, logger)
	if err != nil {
		abandon()
		return nil, err
	}
	// Handlers run on a context that outlives ctx: after a signal they
	// finish, and only the shutdown timeout cancels them.
	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	i := &Instance{cfg: cfg, logger: logger, tel: tel, cancel: cancel}
	i.state.Store("starting")
	for n, s := range services {
		r := newServiceRun(base, s, cfg, logger, tel.tracers[n], tel.spans[n], tel.metrics)
		r.began, r.dialed = began, dials[n]
		i.runs = append(i.runs, r)
	}
	if err := i.serveOps(); err != nil {
		abandon()
		cancel()
		_ = tel.close()
		return nil, err
	}
	// Services start together: one may wait for a stream another creates.
	var g errgroup.Group
	for _, r := range i.runs {
		g.Go(func() error { return r.start(ctx) })
	}
	if err := g.Wait(); err != nil {
		return nil, errors.Join(err, i.Stop())
	}
	i.state.Store("")
	return i, nil
}

// Run is Start, then a graceful Stop once ctx ends: a function's main loop.
// It returns nil after a clean shutdown.
func Run(ctx context.Context, cfg Config, services ...*Service) error {
	i, err := Start(ctx, cfg, services...)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return i.Stop()
}

// Stop shuts the services down gracefully, within Config.ShutdownTimeout:
// they stop taking requests and fetching events, finish what is in flight,
// and drain their connections. It returns nil after a clean shutdown, and
// the same result when called again.
func (i *Instance) Stop() error {
	i.once.Do(func() { i.err = i.shutdown() })
	return i.err
}

func (i *Instance) shutdown() error {
	if i.state.Swap("stopping") == "" {
		i.logger.Info("shutting down", "timeout", i.cfg.ShutdownTimeout)
	}
	done := make(chan error, 1)
	go func() {
		var g errgroup.Group
		for _, r := range i.runs {
			g.Go(r.stop)
		}
		done <- g.Wait()
	}()
	timer := time.NewTimer(i.cfg.ShutdownTimeout)
	defer timer.Stop()
	var err error
	select {
	case err = <-done:
	case <-timer.C:
		i.cancel()
		for _, r := range i.runs {
			if r.nc != nil {
				r.nc.Close()
			}
		}
		err = fmt.Errorf("shutdown: in-flight work did not finish within %s (NATSFN_SHUTDOWN_TIMEOUT)", i.cfg.ShutdownTimeout)
	}
	i.cancel()
	if i.ops != nil {
		i.ops.Close()
	}
	// Last, so that the spans of the shutdown are flushed too.
	if terr := i.tel.close(); terr != nil {
		i.logger.Warn("telemetry shutdown", "error", terr)
	}
	return err
}

// serveOps starts the ops port, unless it is off.
func (i *Instance) serveOps() error {
	if i.cfg.OpsAddr == "" || i.cfg.OpsAddr == "off" {
		return nil
	}
	mux, err := ops.Mux(ops.Handlers{Ready: i.ready, Metrics: i.tel.handler, Extra: i.cfg.OpsHandlers})
	if err != nil {
		return fmt.Errorf("%w: Config.OpsHandlers: %w", ErrConfigValidation, err)
	}
	i.ops, err = ops.Serve(i.cfg.OpsAddr, mux, i.logger)
	if err != nil {
		return fmt.Errorf("%w: NATSFN_OPS_ADDR: %w", ErrConfigValidation, err)
	}
	return nil
}

// ready reports why the instance cannot serve, or nil: /readyz.
func (i *Instance) ready(ctx context.Context) error {
	if s, _ := i.state.Load().(string); s != "" {
		return errors.New(s)
	}
	for _, r := range i.runs {
		if err := r.checkReady(ctx); err != nil {
			return fmt.Errorf("%s: %w", r.svc.cfg.Name, err)
		}
	}
	return nil
}
