package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// startServer runs nats-server with JetStream and its monitoring port on
// random ports, as the image runs it.
func startServer(t *testing.T) *server.Server {
	t.Helper()
	opts := &server.Options{
		Host: "127.0.0.1", Port: -1, HTTPHost: "127.0.0.1", HTTPPort: -1,
		JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	return s
}

func healthURL(s *server.Server, query string) string {
	return fmt.Sprintf("http://%s/healthz%s", s.MonitorAddr(), query)
}

func TestHealthyServer(t *testing.T) {
	s := startServer(t)
	for _, q := range []string{"?js-enabled-only=true", ""} {
		var stderr bytes.Buffer
		if code := run([]string{healthURL(s, q)}, &stderr); code != 0 {
			t.Errorf("%s: exit %d, %s", q, code, stderr.String())
		}
	}
}

func TestUnhealthyServer(t *testing.T) {
	// The server answers, but not 200: a stream asked for without its
	// account is a 400 (a JetStream not ready yet is a 503).
	s := startServer(t)
	var stderr bytes.Buffer
	if code := run([]string{healthURL(s, "?stream=ORDERS")}, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "400") {
		t.Errorf("stderr %q does not give the status", stderr.String())
	}
}

func TestNoServer(t *testing.T) {
	s := startServer(t)
	u := healthURL(s, "")
	s.Shutdown()
	s.WaitForShutdown()
	var stderr bytes.Buffer
	if code := run([]string{u}, &stderr); code != 1 {
		t.Fatalf("exit %d, want 1 (%s)", code, stderr.String())
	}
}

func TestBadArguments(t *testing.T) {
	for _, args := range [][]string{{"127.0.0.1:8222"}, {"https://127.0.0.1:8222/healthz"}, {"a", "b"}} {
		var stderr bytes.Buffer
		if code := run(args, &stderr); code == 0 {
			t.Errorf("%q: exit 0", args)
		} else if stderr.Len() == 0 {
			t.Errorf("%q: no message", args)
		}
	}
}
