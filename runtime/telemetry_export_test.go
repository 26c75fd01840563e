package runtime_test

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/natsfn/natsfn/infra/certs"
	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// collector is an OTLP/HTTP collector stub: it decodes every export as
// protobuf and keeps the span names, unless fail says what to answer.
type collector struct {
	*httptest.Server
	mu    sync.Mutex
	spans []string
	posts int
	fail  func(w http.ResponseWriter) bool
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	c.posts++
	fail := c.fail
	c.mu.Unlock()
	if fail != nil && fail(w) {
		return
	}
	body, _ := io.ReadAll(r.Body)
	req := &coltrace.ExportTraceServiceRequest{}
	if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, req) != nil {
		http.Error(w, "not an OTLP/HTTP protobuf export", http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			for _, s := range ss.Spans {
				c.spans = append(c.spans, s.Name)
			}
		}
	}
}

func (c *collector) got(name string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.spans {
		if s == name {
			return true
		}
	}
	return false
}

func (c *collector) postCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.posts
}

// newCollector starts a plain HTTP collector stub.
func newCollector(t *testing.T, fail func(w http.ResponseWriter) bool) *collector {
	t.Helper()
	c := &collector{fail: fail}
	c.Server = httptest.NewServer(c)
	t.Cleanup(c.Close)
	return c
}

// metricValue reads a sample from Prometheus text, -1 when absent.
func metricValue(t *testing.T, body, name string, labels map[string]string) float64 {
	t.Helper()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	for _, m := range families[name].GetMetric() {
		match := 0
		for _, l := range m.GetLabel() {
			if v, ok := labels[l.GetName()]; ok && v == l.GetValue() {
				match++
			}
		}
		if match == len(labels) {
			return m.GetCounter().GetValue()
		}
	}
	return -1
}

// tracedEcho runs the echo service with tracing to url, fast batches
// (OTEL_BSP_SCHEDULE_DELAY=50) and /metrics on the ops port, and returns
// the ops address and the log.
func tracedEcho(t *testing.T, srv *fntest.Server, edit func(*runtime.Config)) (ops string, log *syncBuffer) {
	t.Helper()
	log = &syncBuffer{}
	cfg := srv.Config("traced")
	cfg.Logger = slog.New(slog.NewJSONHandler(log, nil))
	cfg.BSPScheduleDelay = 50
	cfg.TracesSampler = "always_on"
	ops, _ = freeAddr(t)
	cfg.OpsAddr = ops
	edit(&cfg)
	fntest.RunConfig(t, cfg, echoService(1))
	return ops, log
}

// say sends n echo requests.
func say(t *testing.T, srv *fntest.Server, n int) {
	t.Helper()
	nc := srv.Connect(t)
	for range n {
		if _, err := nc.Request("echo.say", []byte(`{"msg":"traced"}`), 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFailedSpanExportsAreCountedAndLogged: a collector that answers 500
// fails every export; /metrics counts the failed exports and their lost
// spans, and the log says so once (later failures wait a minute for the
// next line, with their count).
func TestFailedSpanExportsAreCountedAndLogged(t *testing.T) {
	c := newCollector(t, func(w http.ResponseWriter) bool {
		http.Error(w, "collector broken", http.StatusInternalServerError)
		return true
	})
	srv := fntest.NewServer(t)
	ops, log := tracedEcho(t, srv, func(cfg *runtime.Config) { cfg.OTLPEndpoint = c.URL })
	for range 3 {
		say(t, srv, 2)
		// One batch per round: the batcher exports every 50 ms.
		before := c.postCount()
		fntest.Eventually(t, 20*time.Second, "an export", func() bool { return c.postCount() > before })
	}
	fn := map[string]string{"function": "echo"}
	lost := map[string]string{"function": "echo", "reason": "export_failed"}
	fntest.Eventually(t, 20*time.Second, "failed exports and lost spans on /metrics", func() bool {
		_, body := get(t, "http://"+ops+"/metrics")
		return metricValue(t, body, "natsfn_span_exports_failed_total", fn) >= 3 &&
			metricValue(t, body, "natsfn_spans_dropped_total", lost) >= 6
	})
	_, body := get(t, "http://"+ops+"/metrics")
	if v := metricValue(t, body, "natsfn_spans_exported_total", fn); v != 0 {
		t.Errorf("natsfn_spans_exported_total %v, want 0: nothing reached the collector", v)
	}
	if n := strings.Count(log.String(), "span export failed"); n != 1 {
		t.Fatalf("%d log lines of failed exports, want 1 (rate-limited):\n%s", n, log.String())
	}
	if !strings.Contains(log.String(), "500 Internal Server Error") {
		t.Fatalf("the log line does not say what failed:\n%s", log.String())
	}
}

// TestSpansDroppedWhenTheQueueIsFull: while the collector hangs, spans
// beyond OTEL_BSP_MAX_QUEUE_SIZE are dropped, and /metrics counts them.
func TestSpansDroppedWhenTheQueueIsFull(t *testing.T) {
	release := make(chan struct{})
	c := newCollector(t, func(http.ResponseWriter) bool { <-release; return false })
	defer close(release)
	srv := fntest.NewServer(t)
	ops, _ := tracedEcho(t, srv, func(cfg *runtime.Config) {
		cfg.OTLPEndpoint = c.URL
		cfg.BSPMaxQueueSize, cfg.BSPMaxExportBatchSize = 4, 2
	})
	say(t, srv, 20)
	full := map[string]string{"function": "echo", "reason": "queue_full"}
	fntest.Eventually(t, 20*time.Second, "dropped spans on /metrics", func() bool {
		_, body := get(t, "http://"+ops+"/metrics")
		return metricValue(t, body, "natsfn_spans_dropped_total", full) >= 20-4-2
	})
}

// pki is a CA with a server certificate for 127.0.0.1 and a client
// certificate "client", written by infra/certs (`make certs`).
type pki struct{ dir string }

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	set := certs.Set{Hosts: []string{"localhost", "127.0.0.1"}, Users: []string{"client"}, Valid: time.Hour}
	if err := set.Write(dir); err != nil {
		t.Fatal(err)
	}
	return pki{dir: dir}
}

func (p pki) path(name string) string { return filepath.Join(p.dir, name) }

// serverTLS is the server side: its certificate, and client certificates
// of this CA required.
func (p pki) serverTLS(t *testing.T) *tls.Config {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(p.path("server.pem"), p.path("server-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(p.path("ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	return &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
}

// TestOTLPOverTLS: a collector on https that requires a client
// certificate gets the spans with OTEL_EXPORTER_OTLP_CERTIFICATE, _CLIENT_
// CERTIFICATE and _CLIENT_KEY; without the client certificate, or trusting
// another CA, the exports fail and are counted.
func TestOTLPOverTLS(t *testing.T) {
	p := newPKI(t)
	other := newPKI(t)
	c := &collector{}
	c.Server = httptest.NewUnstartedServer(c)
	c.TLS = p.serverTLS(t)
	c.StartTLS()
	t.Cleanup(c.Close)
	for _, tc := range []struct {
		name    string
		ca      string
		cert    bool
		arrives bool
	}{
		{"client certificate", p.path("ca.pem"), true, true},
		{"no client certificate", p.path("ca.pem"), false, false},
		{"another CA", other.path("ca.pem"), true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := fntest.NewServer(t)
			ops, log := tracedEcho(t, srv, func(cfg *runtime.Config) {
				cfg.OTLPTracesEndpoint = c.URL + "/v1/traces"
				cfg.OTLPCertificate = tc.ca
				cfg.BSPExportTimeout = 500
				if tc.cert {
					cfg.OTLPClientCertificate, cfg.OTLPClientKey = p.path("client.pem"), p.path("client-key.pem")
				}
			})
			say(t, srv, 1)
			if tc.arrives {
				fntest.Eventually(t, 20*time.Second, "the span at the collector", func() bool { return c.got("process echo.say") })
				return
			}
			fntest.Eventually(t, 20*time.Second, "a failed export on /metrics", func() bool {
				_, body := get(t, "http://"+ops+"/metrics")
				return metricValue(t, body, "natsfn_span_exports_failed_total", map[string]string{"function": "echo"}) >= 1
			})
			if !strings.Contains(log.String(), "span export failed") {
				t.Fatalf("no log line of the failed export:\n%s", log.String())
			}
		})
	}
}

// TestOTLPSettingsRefused: a protocol the runtime does not speak, a client
// certificate without its key, an unreadable CA and OTEL_BSP_* values that
// cannot work stop LoadConfig with an error naming the variable.
func TestOTLPSettingsRefused(t *testing.T) {
	p := newPKI(t)
	checkRefused(t, []refusedEnv{
		{"grpc", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL: grpc is not supported"},
		{"traces grpc", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: grpc"},
		{"json", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "http/json is not supported"},
		{"unknown", map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "thrift"}, `"thrift" is not grpc, http/protobuf or http/json`},
		{"cert without key", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318",
			"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": p.path("client.pem")},
			"OTEL_EXPORTER_OTLP_CLIENT_KEY: is required with OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"},
		{"key of another cert", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318",
			"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE": p.path("client.pem"), "OTEL_EXPORTER_OTLP_CLIENT_KEY": p.path("server-key.pem")},
			"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_KEY: tls: private key does not match"},
		{"missing CA", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318",
			"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE": "/nonexistent/ca.pem"}, "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: open /nonexistent/ca.pem"},
		{"CA not PEM", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318",
			"OTEL_EXPORTER_OTLP_CERTIFICATE": notPEMFile(t)}, "OTEL_EXPORTER_OTLP_CERTIFICATE: no PEM certificate in"},
		{"negative delay", map[string]string{"OTEL_BSP_SCHEDULE_DELAY": "-5"}, "OTEL_BSP_SCHEDULE_DELAY: -5 is negative"},
		{"delay not a number", map[string]string{"OTEL_BSP_EXPORT_TIMEOUT": "30s"}, "OTEL_BSP_EXPORT_TIMEOUT"},
		{"batch over queue", map[string]string{"OTEL_BSP_MAX_QUEUE_SIZE": "100", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "200"},
			"OTEL_BSP_MAX_EXPORT_BATCH_SIZE: 200 is more than the queue holds (OTEL_BSP_MAX_QUEUE_SIZE 100)"},
	})
	t.Run("read", func(t *testing.T) {
		for k, v := range map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf", "OTEL_BSP_SCHEDULE_DELAY": "200",
			"OTEL_BSP_EXPORT_TIMEOUT": "5000", "OTEL_BSP_MAX_QUEUE_SIZE": "1000", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "100"} {
			t.Setenv(k, v)
		}
		cfg, err := runtime.LoadConfig()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.OTLPProtocol != "http/protobuf" || cfg.BSPScheduleDelay != 200 || cfg.BSPExportTimeout != 5000 ||
			cfg.BSPMaxQueueSize != 1000 || cfg.BSPMaxExportBatchSize != 100 {
			t.Fatalf("read %+v", cfg)
		}
	})
}
