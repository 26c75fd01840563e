package runtime_test

import (
	"compress/gzip"
	"context"
	"errors"
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

// TestNewTracerProviderFromConfig: nothing configured means no tracing;
// each exporter setting yields a provider.
func TestNewTracerProviderFromConfig(t *testing.T) {
	ctx := context.Background()
	svc := runtime.ServiceConfig{Name: "cfg", Version: "1.0.0"}
	for _, c := range []struct {
		name string
		cfg  runtime.Config
		on   bool
	}{
		{"nothing", runtime.Config{}, false},
		{"none", runtime.Config{TracesExporter: "none", OTLPEndpoint: "http://127.0.0.1:1"}, false},
		{"sdk disabled", runtime.Config{OTelDisabled: true, OTLPEndpoint: "http://127.0.0.1:1"}, false},
		{"natsfn off", runtime.Config{Traces: "off", TracesExporter: "console"}, false},
		{"console", runtime.Config{TracesExporter: "console"}, true},
		{"stdout", runtime.Config{Traces: "stdout"}, true},
		{"otlp endpoint", runtime.Config{OTLPEndpoint: "http://127.0.0.1:1"}, true},
		{"otlp traces endpoint", runtime.Config{OTLPTracesEndpoint: "http://127.0.0.1:1/v1/traces"}, true},
		{"otlp default endpoint", runtime.Config{TracesExporter: "otlp"}, true},
	} {
		tp, err := runtime.NewTracerProvider(ctx, c.cfg, svc)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if (tp != nil) != c.on {
			t.Errorf("%s: provider %v, want tracing on=%v", c.name, tp, c.on)
		}
		if tp != nil {
			_ = tp.Shutdown(ctx)
		}
	}
}

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
	t.Setenv("OTEL_SERVICE_NAME", "echo-from-env")
	t.Setenv("OTEL_EXPORTER_OTLP_COMPRESSION", compression)

	srv := fntest.NewServer(t)
	cfg := srv.Config("otlp")
	cfg.OTLPEndpoint = collector.URL
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
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "zstd")
	srv := fntest.NewServer(t)
	cfg := srv.Config("otlp")
	cfg.OTLPEndpoint = "http://127.0.0.1:1"
	err := runtime.Run(t.Context(), cfg, echoService(1))
	if err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION") || !errors.Is(err, runtime.ErrConfigValidation) {
		t.Fatalf("Run: %v, want a config error naming OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", err)
	}
}

// TestSamplerFromEnv: the SDK honours OTEL_TRACES_SAMPLER.
func TestSamplerFromEnv(t *testing.T) {
	t.Setenv("OTEL_TRACES_SAMPLER", "always_off")
	tp, err := runtime.NewTracerProvider(context.Background(), runtime.Config{TracesExporter: "console"},
		runtime.ServiceConfig{Name: "sampled", Version: "1.0.0"})
	if err != nil || tp == nil {
		t.Fatalf("provider %v, %v", tp, err)
	}
	defer tp.Shutdown(context.Background())
	_, span := tp.Tracer("test").Start(context.Background(), "dropped")
	defer span.End()
	if span.IsRecording() || span.SpanContext().IsSampled() {
		t.Fatal("always_off sampler ignored")
	}
}
