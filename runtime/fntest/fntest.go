// Package fntest helps function authors test their functions against a real
// in-process nats-server with JetStream, the way net/http/httptest helps
// handler authors.
//
//	srv := fntest.NewServer(t)
//	fntest.Run(t, srv, inventory.New(...))
//	nc := srv.Connect(t)
//	msg, err := nc.Request("inventory.stock.get", []byte(`{"product_id":"sku-1"}`), time.Second)
//
// An event handler is triggered the way another function would trigger it:
// a Client creates the streams the function consumes, publishes events on
// them (Publish) and waits until the function has acknowledged them
// (Settled).
package fntest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/embedded"
)

// Server is an embedded nats-server that lives as long as the test.
type Server struct {
	*embedded.Server
}

// NewServer starts a JetStream server on a free loopback port, with its
// store in t.TempDir(), and stops it when the test ends.
func NewServer(t testing.TB) *Server {
	t.Helper()
	return NewServerAt(t, -1, t.TempDir())
}

// NewServerAt starts a server on a given port and store directory, e.g. to
// restart one on the same port and data.
func NewServerAt(t testing.TB, port int, dir string) *Server {
	t.Helper()
	s, err := embedded.Start(embedded.Config{Port: port, StoreDir: dir})
	if err != nil {
		t.Fatalf("fntest: %v", err)
	}
	t.Cleanup(s.Stop)
	return &Server{Server: s}
}

// Connect opens a client connection closed when the test ends.
func (s *Server) Connect(t testing.TB) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(s.ClientURL(), nats.Name("fntest"))
	if err != nil {
		t.Fatalf("fntest: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// JetStream returns the jetstream API on a fresh connection.
func (s *Server) JetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(s.Connect(t))
	if err != nil {
		t.Fatalf("fntest: jetstream: %v", err)
	}
	return js
}

// Config is a runtime config for this server: no ops port, quiet logs
// (NATSFN_TEST_LOGS=1 shows them), a short shutdown timeout.
func (s *Server) Config(instance string) runtime.Config {
	var logger *slog.Logger
	if os.Getenv("NATSFN_TEST_LOGS") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	} else {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return runtime.Config{
		NATSURL:         s.ClientURL(),
		InstanceID:      instance,
		LogLevel:        "info",
		LogFormat:       "text",
		OpsAddr:         "off",
		ShutdownTimeout: 10 * time.Second,
		ConnectTimeout:  10 * time.Second,
		Replicas:        1,
		Logger:          logger,
	}
}

// Instance is a running set of services; Stop shuts it down gracefully.
type Instance struct {
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// Stop shuts the services down gracefully and returns Run's error. It may be
// called more than once.
func (i *Instance) Stop() error {
	i.once.Do(func() {
		i.cancel()
		i.err = <-i.done
	})
	return i.err
}

// Run runs services against the server with cfg until the test ends (or
// Stop), and waits until every one is ready.
func Run(t testing.TB, s *Server, services ...*runtime.Service) *Instance {
	t.Helper()
	return RunConfig(t, s.Config(t.Name()), services...)
}

// RunConfig is Run with an explicit config.
func RunConfig(t testing.TB, cfg runtime.Config, services ...*runtime.Service) *Instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	inst := &Instance{cancel: cancel, done: make(chan error, 1)}
	go func() { inst.done <- runtime.Run(ctx, cfg, services...) }()
	for _, svc := range services {
		select {
		case <-svc.Ready():
		case err := <-inst.done:
			cancel()
			t.Fatalf("fntest: %s did not start: %v", svc.Name(), err)
		case <-time.After(20 * time.Second):
			cancel()
			t.Fatalf("fntest: %s not ready within 20s", svc.Name())
		}
	}
	t.Cleanup(func() { _ = inst.Stop() })
	return inst
}
