package otlp

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
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
	if err := c.UploadTraces(context.Background(), []*tracepb.ResourceSpans{{}}); err != nil {
		t.Fatalf("upload: %v", err)
	}
	if calls.Load() != 3 {
		t.Fatalf("%d requests, want 2 failures and a success", calls.Load())
	}
	calls.Store(0)
	status = http.StatusBadRequest
	if err := c.UploadTraces(context.Background(), []*tracepb.ResourceSpans{{}}); err == nil || calls.Load() != 1 {
		t.Fatalf("a 400: %v after %d requests, want an error after 1", err, calls.Load())
	}
}
