package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// startExporter runs the command against servers (monitoring URLs) on a
// random port and returns its base URL; it stops when the test ends.
func startExporter(t *testing.T, servers ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-timeout", "2s", "-servers", strings.Join(servers, ",")}, &stderr, ready)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("exporter exited %d: %s", code, stderr.String())
		}
	})
	select {
	case addr := <-ready:
		return "http://" + addr
	case code := <-done:
		t.Fatalf("exporter exited %d: %s", code, stderr.String())
	case <-time.After(10 * time.Second):
		t.Fatal("exporter did not listen")
	}
	return ""
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServesUntilStopped(t *testing.T) {
	base := startExporter(t, "http://127.0.0.1:1")
	for _, path := range []string{"/healthz", "/metrics"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: %s", path, resp.Status)
		}
		if path == "/metrics" && !strings.Contains(string(body), `nats_server_up{url="http://127.0.0.1:1"} 0`) {
			t.Errorf("/metrics does not report the absent server:\n%s", body)
		}
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-servers", ""}, {"-servers", "nats-1:8222"}, {"-timeout", "0s"}, {"-nope"}} {
		var stderr bytes.Buffer
		if code := run(context.Background(), args, &stderr, nil); code != 2 || stderr.Len() == 0 {
			t.Errorf("%q: exit %d, %q", args, code, stderr.String())
		}
	}
}
