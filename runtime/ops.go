package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// ops is the process's ops HTTP server: /healthz while the process lives,
// /readyz while every service is connected, JetStream answers and every
// consumer is bound, and /metrics.
type ops struct {
	srv      *http.Server
	services []*Service
	started  atomic.Bool
	mux      *http.ServeMux
}

// startOps serves the ops port; metrics is the /metrics handler, nil when
// Run does not own the meter provider.
func startOps(cfg Config, logger *slog.Logger, services []*Service, metrics http.Handler) (*ops, error) {
	o := &ops{services: services, mux: http.NewServeMux()}
	if cfg.OpsAddr == "" || cfg.OpsAddr == "off" {
		return o, nil
	}
	o.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	o.mux.HandleFunc("GET /readyz", o.readyz)
	if metrics != nil {
		o.mux.Handle("GET /metrics", metrics)
	}
	ln, err := net.Listen("tcp", cfg.OpsAddr)
	if err != nil {
		return nil, fmt.Errorf("%w: NATSFN_OPS_ADDR: %w", ErrConfigValidation, err)
	}
	o.srv = &http.Server{Handler: o.mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := o.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("ops server stopped", "error", err)
		}
	}()
	logger.Info("ops server listening", "addr", ln.Addr().String())
	return o, nil
}

func (o *ops) markStarted() { o.started.Store(true) }

func (o *ops) close() {
	if o.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = o.srv.Shutdown(ctx)
	}
}

func (o *ops) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := o.ready(ctx); err != nil {
		http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// ready reports why the process cannot serve, or nil.
func (o *ops) ready(ctx context.Context) error {
	if !o.started.Load() {
		return errors.New("starting")
	}
	for _, s := range o.services {
		if err := s.checkReady(ctx); err != nil {
			return fmt.Errorf("%s: %w", s.cfg.Name, err)
		}
	}
	return nil
}

// ready checks one service: connected, JetStream answering, consumers bound.
func (s *Service) checkReady(ctx context.Context) error {
	if s.nc == nil || !s.nc.IsConnected() {
		return errors.New("NATS disconnected")
	}
	if _, err := s.js.AccountInfo(ctx); err != nil {
		return fmt.Errorf("JetStream: %w", err)
	}
	for _, h := range s.events {
		if !h.bound() {
			return fmt.Errorf("consumer %s not bound", h.consumerName())
		}
	}
	return nil
}

// Healthcheck is the `healthcheck` argument of every binary: args empty
// probes /healthz (alive), args ["ready"] probes /readyz (connected and
// serving). It returns the exit code: 0 when the probe answers 200, else 1.
// Scratch images have no shell or curl, so each binary does this itself for
// Docker's HEALTHCHECK.
func Healthcheck(addr string, args ...string) int {
	path := "/healthz"
	if len(args) > 0 {
		if args[0] != "ready" {
			fmt.Printf("healthcheck: %q is not \"ready\" or nothing\n", args[0])
			return 1
		}
		path = "/readyz"
	}
	return probe(addr, path)
}

// probe GETs path on the ops port of a process on this host.
func probe(addr, path string) int {
	if addr == "" {
		addr = ":8080"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		fmt.Println("healthcheck: bad NATSFN_OPS_ADDR:", err)
		return 1
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	client := http.Client{Timeout: 2 * time.Second}
	resp, err := client.Get("http://" + net.JoinHostPort(host, port) + path)
	if err != nil {
		fmt.Println("healthcheck:", err)
		return 1
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Println("healthcheck:", resp.Status)
		return 1
	}
	return 0
}
