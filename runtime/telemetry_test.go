package runtime_test

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestOTLPExport: with OTEL_EXPORTER_OTLP_ENDPOINT set, spans reach the
// collector over OTLP/HTTP at /v1/traces by the time Run returns, under the
// service name OTEL_SERVICE_NAME gives; gzipped when
// OTEL_EXPORTER_OTLP_COMPRESSION=gzip.
func TestOTLPExport(t *testing.T) {
	for _, compression := range []string{"none", "gzip"} {
		t.Run(compression, func(t *testing.T) { testOTLPExport(t, compression) })
	}
}

func testOTLPExport(t *testing.T, compression string) {
	var mu sync.Mutex
	var got []*coltrace.ExportTraceServiceRequest
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var reader io.Reader = r.Body
		if (r.Header.Get("Content-Encoding") == "gzip") != (compression == "gzip") {
			http.Error(w, "Content-Encoding "+r.Header.Get("Content-Encoding"), http.StatusBadRequest)
			return
		}
		if compression == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			reader = zr
		}
		body, _ := io.ReadAll(reader)
		req := &coltrace.ExportTraceServiceRequest{}
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, req)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	srv := fntest.NewServer(t)
	cfg := srv.Config("otlp")
	cfg.OTLPEndpoint = collector.URL
	cfg.ServiceName = "echo-from-env" // OTEL_SERVICE_NAME
	cfg.OTLPCompression = compression
	inst := fntest.RunConfig(t, cfg, echoService(1))
	nc := srv.Connect(t)
	if _, err := nc.Request("echo.say", []byte(`{"msg":"exported"}`), 2*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, req := range got {
		for _, rs := range req.ResourceSpans {
			service := ""
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.Key == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.ScopeSpans {
				for _, s := range ss.Spans {
					if s.Name == "process echo.say" {
						if service != "echo-from-env" {
							t.Fatalf("service.name %q, want OTEL_SERVICE_NAME's echo-from-env", service)
						}
						return
					}
				}
			}
		}
	}
	t.Fatalf("the collector got no span process echo.say in %d exports", len(got))
}

// TestOTLPBadCompression: an unknown compression stops Run with an error
// that names the variable.
func TestOTLPBadCompression(t *testing.T) {
	srv := fntest.NewServer(t)
	cfg := srv.Config("otlp")
	cfg.OTLPEndpoint = "http://127.0.0.1:1"
	cfg.OTLPTracesCompression = "zstd"
	err := runtime.Run(t.Context(), cfg, echoService(1))
	if err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION") || !errors.Is(err, runtime.ErrConfigValidation) {
		t.Fatalf("Run: %v, want a config error naming OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", err)
	}
}

// TestOTelSettingsFromEnv: the OTEL_* variables are read into Config by
// LoadConfig, and nowhere else.
func TestOTelSettingsFromEnv(t *testing.T) {
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":           "http://collector:4318",
		"OTEL_EXPORTER_OTLP_HEADERS":            "tenant=a",
		"OTEL_EXPORTER_OTLP_TRACES_HEADERS":     "auth=b%20c",
		"OTEL_EXPORTER_OTLP_TIMEOUT":            "2500",
		"OTEL_EXPORTER_OTLP_COMPRESSION":        "none",
		"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": "gzip",
		"OTEL_TRACES_SAMPLER":                   "parentbased_traceidratio",
		"OTEL_TRACES_SAMPLER_ARG":               "0.25",
		"OTEL_SERVICE_NAME":                     "renamed",
		"OTEL_RESOURCE_ATTRIBUTES":              "deployment.environment=test",
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	cfg, err := runtime.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT":           cfg.OTLPEndpoint,
		"OTEL_EXPORTER_OTLP_HEADERS":            cfg.OTLPHeaders,
		"OTEL_EXPORTER_OTLP_TRACES_HEADERS":     cfg.OTLPTracesHeaders,
		"OTEL_EXPORTER_OTLP_TIMEOUT":            fmt.Sprint(cfg.OTLPTimeout),
		"OTEL_EXPORTER_OTLP_COMPRESSION":        cfg.OTLPCompression,
		"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION": cfg.OTLPTracesCompression,
		"OTEL_TRACES_SAMPLER":                   cfg.TracesSampler,
		"OTEL_TRACES_SAMPLER_ARG":               cfg.TracesSamplerArg,
		"OTEL_SERVICE_NAME":                     cfg.ServiceName,
		"OTEL_RESOURCE_ATTRIBUTES":              cfg.ResourceAttributes,
	}
	for k, want := range env {
		if got[k] != want {
			t.Errorf("%s=%q read as %q", k, want, got[k])
		}
	}
}
