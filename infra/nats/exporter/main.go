// Command nats-exporter serves the metrics of NATS servers to Prometheus:
// at every scrape of its /metrics it reads /varz and /jsz (accounts,
// streams, consumers) from each server's monitoring port and reports the
// figures (collector.go lists them). compose runs it as the service
// nats-exporter, in the natsfn/nats-exporter image:
//
//	nats-exporter -addr :7777 -servers http://nats-1:8222,http://nats-2:8222,http://nats-3:8222
//
// It stands in for prometheus-nats-exporter, whose Go module the module
// proxy here refuses ("403 Forbidden: This module version is not
// available"), as it does nats-surveyor: no exporter of NATS's own could be
// built. It keeps that exporter's metric names, so its dashboards apply.
// /healthz answers 200 while the process runs.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr, nil))
}

// run serves until ctx ends. ready, when not nil, receives the listening
// address once the server accepts connections.
func run(ctx context.Context, args []string, stderr io.Writer, ready chan<- string) int {
	fs := flag.NewFlagSet("nats-exporter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", ":7777", "address to serve /metrics and /healthz on")
	servers := fs.String("servers", "http://127.0.0.1:8222", "monitoring URLs of the NATS servers, comma-separated")
	timeout := fs.Duration("timeout", 3*time.Second, "how long a scrape waits for a server")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var urls []string
	for _, u := range strings.Split(*servers, ",") {
		u = strings.TrimRight(strings.TrimSpace(u), "/")
		if u == "" {
			continue
		}
		if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
			fmt.Fprintf(stderr, "nats-exporter: -servers: %q is not an http(s) URL\n", u)
			return 2
		}
		urls = append(urls, u)
	}
	if len(urls) == 0 {
		fmt.Fprintln(stderr, "nats-exporter: -servers is empty")
		return 2
	}
	if *timeout <= 0 {
		fmt.Fprintln(stderr, "nats-exporter: -timeout must be positive")
		return 2
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(&collector{servers: urls, client: &http.Client{}, timeout: *timeout})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok\n") })
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "nats-exporter:", err)
		return 1
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	if ready != nil {
		ready <- ln.Addr().String()
	}
	fmt.Fprintf(stderr, "nats-exporter: serving %s/metrics for %s\n", ln.Addr(), strings.Join(urls, ", "))
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		fmt.Fprintln(stderr, "nats-exporter:", err)
		return 1
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintln(stderr, "nats-exporter:", err)
		return 1
	}
	return 0
}
