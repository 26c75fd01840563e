package otlp

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseList(t *testing.T) {
	got := ParseList(" api-key = a%20b ,tenant=t1,=nokey,novalue,x=")
	want := map[string]string{"api-key": "a b", "tenant": "t1", "x": ""}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ParseList: %v, want %v", got, want)
	}
}

// TestUploadRetries: a 503 is retried, a 400 is not, and the headers and
// gzip encoding go with every request.
func TestUploadRetries(t *testing.T) {
	var calls atomic.Int64
	status := http.StatusServiceUnavailable
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Api-Key") != "k" || r.Header.Get("Content-Encoding") != "gzip" ||
			r.Header.Get("Content-Type") != "application/x-protobuf" {
			http.Error(w, "bad headers", http.StatusBadRequest)
			return
		}
		if calls.Add(1) < 3 {
			w.WriteHeader(status)
		}
	}))
	defer srv.Close()
	c := &client{url: srv.URL, headers: map[string]string{"Api-Key": "k"}, gzip: true, http: &http.Client{Timeout: time.Second}}
	if err := c.upload(context.Background(), nil); err != nil {
		t.Fatalf("upload: %v", err)
	}
	if calls.Load() != 3 {
		t.Fatalf("%d requests, want 2 failures and a success", calls.Load())
	}
	calls.Store(0)
	status = http.StatusBadRequest
	if err := c.upload(context.Background(), nil); err == nil || calls.Load() != 1 {
		t.Fatalf("a 400: %v after %d requests, want an error after 1", err, calls.Load())
	}
}

// TestRetryAfter: a 429 with Retry-After is tried again no sooner than
// the collector asked.
func TestRetryAfter(t *testing.T) {
	var calls atomic.Int64
	var first time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			first = time.Now()
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
		}
	}))
	defer srv.Close()
	c := &client{url: srv.URL, http: &http.Client{Timeout: time.Second}}
	if err := c.upload(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 2 || time.Since(first) < time.Second {
		t.Fatalf("%d requests, the second %s after the first; want 2, after the 1s asked", calls.Load(), time.Since(first))
	}
}

// TestUntrustedCollectorNotRetried: a certificate the client does not
// trust fails the upload after one connection, not after retrying until
// the deadline. The connections are counted rather than the time timed:
// one handshake took 1.3 s on a loaded CI machine.
func TestUntrustedCollectorNotRetried(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake, expected
	srv.StartTLS()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := &client{url: srv.URL, http: &http.Client{Timeout: 10 * time.Second}}
	err := c.upload(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "certificate") || ctx.Err() != nil {
		t.Fatalf("upload to an untrusted collector: %v (deadline: %v), want a certificate error before the deadline", err, ctx.Err())
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections to the untrusted collector, want 1 (no retry)", n)
	}
}
