// Package ops is a function process's ops HTTP server: /healthz while the
// process lives, /readyz while the runtime says it can serve, /metrics,
// and whatever extra handlers the process mounts (a web console).
package ops

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server is a running ops server.
type Server struct {
	srv *http.Server
}

// Handlers is what the server serves besides /healthz.
type Handlers struct {
	// Ready reports why the process cannot serve, or nil; /readyz answers
	// 503 with the reason, or 200.
	Ready func(context.Context) error
	// Metrics serves /metrics; nil serves none.
	Metrics http.Handler
	// Extra are mounted as they are, keyed by http.ServeMux pattern.
	Extra map[string]http.Handler
}

// Mux builds the server's handler: /healthz, /readyz, /metrics and the
// extra handlers. A bad or clashing extra pattern is an error naming it.
func Mux(h Handlers) (*http.ServeMux, error) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := h.Ready(ctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	if h.Metrics != nil {
		mux.Handle("GET /metrics", h.Metrics)
	}
	for pattern, handler := range h.Extra {
		if err := mount(mux, pattern, handler); err != nil {
			return nil, err
		}
	}
	return mux, nil
}

// Serve listens on addr and serves handler until Close.
func Serve(addr string, handler http.Handler, logger *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{srv: &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("ops server stopped", "error", err)
		}
	}()
	logger.Info("ops server listening", "addr", ln.Addr().String())
	return s, nil
}

// mount adds one handler. http.ServeMux reports a bad or clashing pattern
// only by panicking; that becomes an error naming the pattern.
func mount(mux *http.ServeMux, pattern string, h http.Handler) (err error) {
	if h == nil {
		return fmt.Errorf("ops handler %q is nil", pattern)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("ops handler %q: %v", pattern, r)
		}
	}()
	mux.Handle(pattern, h)
	return nil
}

// Close stops the server, giving requests in flight a second.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
}

// Probe GETs path on the ops port of a process on this host and returns
// the exit code of a healthcheck: 0 when it answers 200, else 1 (saying
// why on stdout, where Docker keeps a HEALTHCHECK's output).
func Probe(addr, path string) int {
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
