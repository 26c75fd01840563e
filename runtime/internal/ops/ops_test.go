package ops

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestMux: /readyz answers the readiness check's reason; extra handlers
// are mounted, and a clashing or nil one is an error naming its pattern.
func TestMux(t *testing.T) {
	ready := errors.New("starting")
	mux, err := Mux(Handlers{
		Ready: func(context.Context) error { return ready },
		Extra: map[string]http.Handler{"/console/": http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = w.Write([]byte("console"))
		})},
	})
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) (int, string) {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec.Code, rec.Body.String()
	}
	if code, body := get("/readyz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "starting") {
		t.Errorf("/readyz while starting: %d %q", code, body)
	}
	ready = nil
	if code, _ := get("/readyz"); code != http.StatusOK {
		t.Errorf("/readyz when ready: %d", code)
	}
	if code, body := get("/console/x"); code != http.StatusOK || body != "console" {
		t.Errorf("/console/x: %d %q", code, body)
	}
	if code, _ := get("/metrics"); code != http.StatusNotFound {
		t.Errorf("/metrics without a handler: %d", code)
	}
	for pattern, h := range map[string]http.Handler{"GET /healthz": http.NotFoundHandler(), "/x/": nil, "/{unclosed": http.NotFoundHandler()} {
		_, err := Mux(Handlers{Ready: func(context.Context) error { return nil }, Extra: map[string]http.Handler{pattern: h}})
		if err == nil || !strings.Contains(err.Error(), pattern) {
			t.Errorf("pattern %q: %v, want an error naming it", pattern, err)
		}
	}
}
