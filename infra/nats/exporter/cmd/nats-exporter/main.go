// Command nats-exporter serves the metrics of NATS servers to Prometheus
// (package exporter says which):
//
//	nats-exporter -addr :7777 -servers http://nats-1:8222,http://nats-2:8222,http://nats-3:8222
//
// It serves /metrics and /healthz until SIGTERM.
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

	"github.com/natsfn/natsfn/infra/nats/exporter"
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
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	handler, err := exporter.Handler(urls, *timeout)
	if err != nil {
		fmt.Fprintln(stderr, "nats-exporter: -servers/-timeout:", err)
		return 2
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintln(stderr, "nats-exporter:", err)
		return 1
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 5 * time.Second}
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
