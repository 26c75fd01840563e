package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/functions/console"
	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/runtime"
)

// consoleEnv is what `natsfn console` reads from the environment: the
// connection settings every function reads, and where to serve.
type consoleEnv struct {
	URL      string        `env:"NATS_URL" envDefault:"nats://127.0.0.1:4222"`
	User     string        `env:"NATS_USER"`
	Password string        `env:"NATS_PASSWORD"`
	Token    string        `env:"NATS_TOKEN"`
	Creds    string        `env:"NATS_CREDS"`
	NKeySeed string        `env:"NATS_NKEY_SEED"`
	TLSCert  string        `env:"NATS_TLS_CERT"`
	TLSKey   string        `env:"NATS_TLS_KEY"`
	TLSCA    string        `env:"NATS_TLS_CA"`
	Addr     string        `env:"NATSFN_CONSOLE_ADDR" envDefault:":8090"`
	Timeout  time.Duration `env:"NATSFN_CONSOLE_TIMEOUT" envDefault:"5s"`
}

// loadConsoleEnv reads and checks the environment; its error names the
// variable at fault.
func loadConsoleEnv() (consoleEnv, error) {
	cfg, err := env.ParseAs[consoleEnv]()
	if err != nil {
		return cfg, envError(err)
	}
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("invalid configuration: %s: %s", name, fmt.Sprintf(format, args...))
	}
	if strings.TrimSpace(cfg.URL) == "" {
		return cfg, bad("NATS_URL", "must list at least one server")
	}
	if cfg.Password != "" && cfg.User == "" {
		return cfg, bad("NATS_USER", "is required with NATS_PASSWORD")
	}
	if cfg.User != "" && (cfg.Token != "" || cfg.Creds != "") {
		return cfg, bad("NATS_USER", "give one of NATS_USER, NATS_TOKEN, NATS_CREDS")
	}
	for _, f := range []struct{ name, path string }{{"NATS_CREDS", cfg.Creds}, {"NATS_NKEY_SEED", cfg.NKeySeed},
		{"NATS_TLS_CERT", cfg.TLSCert}, {"NATS_TLS_KEY", cfg.TLSKey}, {"NATS_TLS_CA", cfg.TLSCA}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			return cfg, bad(f.name, "cannot read %s: %v", f.path, err)
		}
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return cfg, bad("NATS_TLS_CERT", "NATS_TLS_CERT and NATS_TLS_KEY go together")
	}
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil {
		return cfg, bad("NATSFN_CONSOLE_ADDR", "%q is not host:port: %v", cfg.Addr, err)
	}
	if cfg.Timeout <= 0 {
		return cfg, bad("NATSFN_CONSOLE_TIMEOUT", "must be positive, not %s", cfg.Timeout)
	}
	return cfg, nil
}

// envError names the variable of caarlos0/env's first error rather than
// the Go field.
func envError(err error) error {
	var agg env.AggregateError
	if errors.As(err, &agg) && len(agg.Errors) > 0 {
		err = agg.Errors[0]
	}
	var pe env.ParseError
	if errors.As(err, &pe) {
		if f, ok := reflect.TypeFor[consoleEnv]().FieldByName(pe.Name); ok {
			name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
			return fmt.Errorf("invalid configuration: %s: %q cannot be read as %s: %w", name, os.Getenv(name), pe.Type, pe.Err)
		}
	}
	return fmt.Errorf("invalid configuration: %w", err)
}

// options are the console connection's: its own inbox, the credentials,
// and reconnecting forever, so that the page stays up and says NATS is
// down rather than the console exiting.
func (cfg consoleEnv) options(stderr io.Writer) ([]nats.Option, error) {
	opts := []nats.Option{
		nats.Name("console"),
		nats.CustomInboxPrefix(console.InboxPrefix),
		nats.RetryOnFailedConnect(true),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(250*time.Millisecond, time.Second),
		nats.PingInterval(10 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				fmt.Fprintln(stderr, "natsfn console: disconnected from NATS:", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			fmt.Fprintln(stderr, "natsfn console: connected to", nc.ConnectedUrlRedacted())
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			fmt.Fprintln(stderr, "natsfn console: NATS error:", err)
		}),
	}
	switch {
	case cfg.User != "":
		opts = append(opts, nats.UserInfo(cfg.User, cfg.Password))
	case cfg.Token != "":
		opts = append(opts, nats.Token(cfg.Token))
	case cfg.Creds != "":
		opts = append(opts, nats.UserCredentials(cfg.Creds))
	}
	if cfg.NKeySeed != "" {
		o, err := nats.NkeyOptionFromSeed(cfg.NKeySeed)
		if err != nil {
			return nil, fmt.Errorf("invalid configuration: NATS_NKEY_SEED: %w", err)
		}
		opts = append(opts, o)
	}
	if cfg.TLSCert != "" {
		opts = append(opts, nats.ClientCert(cfg.TLSCert, cfg.TLSKey))
	}
	if cfg.TLSCA != "" {
		opts = append(opts, nats.RootCAs(cfg.TLSCA))
	}
	return opts, nil
}

// runConsole is `natsfn console`: the web console alone, for any NATS.
func runConsole(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintf(stderr, "natsfn console: takes no arguments (got %q); it reads NATS_URL, NATS_USER, ... and NATSFN_CONSOLE_ADDR\n", args)
		return 2
	}
	cfg, err := loadConsoleEnv()
	if err != nil {
		fmt.Fprintln(stderr, "natsfn console:", err)
		return 2
	}
	opts, err := cfg.options(stderr)
	if err != nil {
		fmt.Fprintln(stderr, "natsfn console:", err)
		return 2
	}
	nc, err := nats.Connect(cfg.URL, opts...)
	if err != nil {
		fmt.Fprintln(stderr, "natsfn console: connect", cfg.URL+":", err)
		return 1
	}
	defer nc.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		fmt.Fprintln(stderr, "natsfn console: NATSFN_CONSOLE_ADDR:", err)
		return 1
	}
	fmt.Fprintf(stdout, "natsfn console on http://%s/ for NATS %s\n", l.Addr(), cfg.URL)
	if err := serveConsole(ctx, l, nc, cfg.Timeout); err != nil {
		fmt.Fprintln(stderr, "natsfn console:", err)
		return 1
	}
	return 0
}

// startConsole starts the all-in-one's console on its own connection to
// url, as a console elsewhere would have one. addr "ops" mounts it on the
// ops port at /console/ (through cfg.OpsHandlers, so it needs -ops), "off"
// starts none, and any other value is an address of its own. It returns
// the console's URL and a func that stops it and waits.
func startConsole(ctx context.Context, addr, url string, cfg *runtime.Config, stderr io.Writer) (string, func(), error) {
	if addr == "off" || (addr == "ops" && (cfg.OpsAddr == "off" || cfg.OpsAddr == "")) {
		return "", func() {}, nil
	}
	nc, err := nats.Connect(url, nats.Name("console"), nats.CustomInboxPrefix(console.InboxPrefix))
	if err != nil {
		return "", nil, err
	}
	if addr == "ops" {
		c, err := newConsole(nc, 5*time.Second)
		if err != nil {
			nc.Close()
			return "", nil, err
		}
		cfg.OpsHandlers = map[string]http.Handler{"/console/": http.StripPrefix("/console", c)}
		return "http://" + cfg.OpsAddr + "/console/", func() { c.Close(); nc.Close() }, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		nc.Close()
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- serveConsole(ctx, l, nc, 5*time.Second) }()
	return "http://" + l.Addr().String() + "/", func() {
		cancel()
		if err := <-served; err != nil {
			fmt.Fprintln(stderr, "natsfn:", err)
		}
		nc.Close()
	}, nil
}

// newConsole is the console of the demo catalog on nc.
func newConsole(nc *nats.Conn, timeout time.Duration) (*console.Console, error) {
	var products []string
	for _, p := range inventory.DemoCatalog() {
		products = append(products, p.ProductID)
	}
	return console.New(nc, console.Config{Timeout: timeout, Products: products})
}

// serveConsole serves a console on l until ctx ends, then closes its live
// streams and shuts the HTTP server down.
func serveConsole(ctx context.Context, l net.Listener, nc *nats.Conn, timeout time.Duration) error {
	c, err := newConsole(nc, timeout)
	if err != nil {
		_ = l.Close()
		return err
	}
	// /healthz and /readyz beside the page, for the image's health check
	// (`natsfn healthcheck [ready]` with NATSFN_OPS_ADDR at this address):
	// alive while it serves, ready while it is connected to NATS.
	mux := http.NewServeMux()
	mux.Handle("/", c)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !nc.IsConnected() {
			http.Error(w, "not connected to NATS", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ready")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	srv.RegisterOnShutdown(c.Close)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	select {
	case err := <-done:
		c.Close()
		return fmt.Errorf("console: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("console: shutdown: %w", err)
	}
	<-done
	return nil
}
