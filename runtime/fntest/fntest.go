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
// (Settled). Metrics reads the metrics a function records, by name and
// labels.
package fntest

import (
	"bytes"
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
	// logs keeps the end of what the functions run with Config logged,
	// which a failed test prints.
	logs *logTail
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
	return &Server{Server: s, logs: newLogTail(t)}
}

// newLogTail keeps the end of the functions' logs, printed if t fails.
func newLogTail(t testing.TB) *logTail {
	logs := &logTail{}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		if b := logs.bytes(); len(b) > 0 {
			t.Logf("fntest: the functions' last log lines (NATSFN_TEST_LOGS=1 shows every line as it comes):\n%s", b)
		}
	})
	return logs
}

// Connect opens a client connection closed when the test ends.
func (s *Server) Connect(t testing.TB) *nats.Conn {
	t.Helper()
	return connect(t, s.ClientURL())
}

// JetStream returns the jetstream API on a fresh connection.
func (s *Server) JetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	return newJetStream(t, s.Connect(t))
}

// connect opens a connection to url, closed when the test ends.
func connect(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url, nats.Name("fntest"))
	if err != nil {
		t.Fatalf("fntest: connect: %v", err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// newJetStream is the jetstream API on nc.
func newJetStream(t testing.TB, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("fntest: jetstream: %v", err)
	}
	return js
}

// Config is a runtime config for this server: no ops port, quiet logs
// (NATSFN_TEST_LOGS=1 shows them; a failed test prints their last lines),
// a short shutdown timeout.
func (s *Server) Config(instance string) runtime.Config {
	return testConfig(s.ClientURL(), instance, 1, s.logs)
}

// testConfig is a runtime config for the servers at url, its logs kept in
// logs (nil: dropped) unless NATSFN_TEST_LOGS is set.
func testConfig(url, instance string, replicas int, logs *logTail) runtime.Config {
	var logger *slog.Logger
	switch {
	case os.Getenv("NATSFN_TEST_LOGS") != "":
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	case logs != nil:
		logger = slog.New(slog.NewTextHandler(logs, nil))
	default:
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return runtime.Config{
		NATSURL:         url,
		InstanceID:      instance,
		LogLevel:        "info",
		LogFormat:       "text",
		OpsAddr:         "off",
		ShutdownTimeout: 10 * time.Second,
		ConnectTimeout:  10 * time.Second,
		Replicas:        replicas,
		Logger:          logger,
	}
}

// Run runs services against the server until the test ends, with the
// server's Config named after the test, and returns once every one serves.
// The test may Stop the instance itself, e.g. to check a graceful shutdown.
func Run(t testing.TB, s *Server, services ...*runtime.Service) *runtime.Instance {
	t.Helper()
	return RunConfig(t, s.Config(t.Name()), services...)
}

// RunConfig is Run with an explicit config.
func RunConfig(t testing.TB, cfg runtime.Config, services ...*runtime.Service) *runtime.Instance {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	inst, err := runtime.Start(ctx, cfg, services...)
	if err != nil {
		t.Fatalf("fntest: services did not start: %v", err)
	}
	t.Cleanup(func() { _ = inst.Stop() })
	return inst
}

// logTailBytes is how much of the functions' logs a failed test prints: the
// last lines, where a timeout's cause usually is.
const logTailBytes = 64 << 10

// logTail keeps the last logTailBytes (and at most twice that) written to
// it; its methods are safe for concurrent use.
type logTail struct {
	mu      sync.Mutex
	buf     []byte
	trimmed bool // buf may start inside a line
}

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if len(l.buf) > 2*logTailBytes {
		l.buf = append(l.buf[:0], l.buf[len(l.buf)-logTailBytes:]...)
		l.trimmed = true
	}
	return len(p), nil
}

// bytes returns the last logTailBytes written, from a line's start.
func (l *logTail) bytes() []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf
	if len(b) > logTailBytes || l.trimmed {
		b = b[max(len(b)-logTailBytes, 0):]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return bytes.Clone(b)
}
