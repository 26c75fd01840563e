package kv_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime/embedded"
	"github.com/natsfn/natsfn/runtime/internal/kv"
	"github.com/natsfn/natsfn/runtime/internal/retry"
)

// item is the record the tests store.
type item struct {
	N    int    `json:"n"`
	Note string `json:"note,omitempty"`
}

// single is one embedded server with its store, which a test may stop and
// start again on the same port and data.
type single struct {
	t    testing.TB
	dir  string
	port int
	srv  *embedded.Server
}

func newSingle(t testing.TB) *single {
	t.Helper()
	s := &single{t: t, dir: t.TempDir(), port: -1}
	s.start()
	s.port = s.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *single) start() {
	s.t.Helper()
	srv, err := embedded.Start(embedded.Config{Port: s.port, StoreDir: s.dir})
	if err != nil {
		s.t.Fatalf("start server: %v", err)
	}
	s.srv = srv
}

func (s *single) stop() {
	if s.srv != nil {
		s.srv.Stop()
		s.srv = nil
	}
}

func (s *single) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", s.port) }

// connect opens a connection that reconnects at once and forever, through
// cut when it is not nil.
func connect(t testing.TB, urls string, cut *cutter) jetstream.JetStream {
	t.Helper()
	opts := []nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(20 * time.Millisecond), nats.ReconnectJitter(0, 0)}
	if cut != nil {
		opts = append(opts, nats.SetCustomDialer(cut))
	}
	nc, err := nats.Connect(urls, opts...)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// open opens a bucket, failing the test on error.
func open[T any](t testing.TB, js jetstream.JetStream, cfg kv.Config) *kv.Bucket[T] {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := kv.Open[T](ctx, js, cfg)
	if err != nil {
		t.Fatalf("open %s: %v", cfg.Bucket, err)
	}
	return b
}

// bg is a context for a test: a bound on a hang, wide enough for a
// loaded machine (TestAWriterAloneNeverConflicts took more than 20 s for
// its 1,000 writes once, beside a CI run's container suites).
func bg(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// history returns every message stored under key, oldest first. It
// retries a request lost to a connection the test just cut.
func history(t testing.TB, js jetstream.JetStream, bucket, key string) []jetstream.KeyValueEntry {
	t.Helper()
	var h []jetstream.KeyValueEntry
	err := retry.Policy{}.Do(bg(t), func(ctx context.Context) error {
		b, err := js.KeyValue(ctx, bucket)
		if err != nil {
			return err
		}
		h, err = b.History(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			h, err = nil, nil
		}
		return err
	})
	if err != nil {
		t.Fatalf("history of %s: %v", key, err)
	}
	return h
}

// cutter is a dialer whose connections can be cut right after they send a
// given frame, as when a connection dies between a write and its answer:
// the server has the write, the client never gets the answer.
type cutter struct {
	mu      sync.Mutex
	pattern []byte
	cuts    int
}

// arm makes the next frame that contains pattern the last one a
// connection sends.
func (c *cutter) arm(pattern string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pattern = []byte(pattern)
}

// count returns how many connections were cut.
func (c *cutter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cuts
}

// Dial implements nats.CustomDialer.
func (c *cutter) Dial(network, address string) (net.Conn, error) {
	conn, err := net.Dial(network, address)
	if err != nil {
		return nil, err
	}
	return &cutConn{Conn: conn, c: c}, nil
}

type cutConn struct {
	net.Conn
	c *cutter
}

func (cc *cutConn) Write(p []byte) (int, error) {
	cc.c.mu.Lock()
	hit := cc.c.pattern != nil && bytes.Contains(p, cc.c.pattern)
	if hit {
		cc.c.pattern = nil
		cc.c.cuts++
	}
	cc.c.mu.Unlock()
	n, err := cc.Conn.Write(p)
	if hit {
		_ = cc.Conn.Close()
	}
	return n, err
}

// countRequests counts the messages a connection of its own to url sees on
// subjects (JetStream API requests: reads, writes), and returns a function
// that answers the count so far. The server may answer a request before it
// has queued the copy for this connection (its own handler runs first), so
// the function waits a moment between two round trips of its own before it
// counts: a CI run once counted a read after the requests that made it.
func countRequests(t testing.TB, url string, subjects ...string) func() int64 {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	var n atomic.Int64
	for _, subj := range subjects {
		if _, err := nc.Subscribe(subj, func(*nats.Msg) { n.Add(1) }); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return func() int64 {
		t.Helper()
		for range 2 {
			if err := nc.Flush(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return n.Load()
	}
}
