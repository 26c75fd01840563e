package runtime_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/deadletter"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// get returns the status and body of an ops URL, or 0 when nobody answers.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	client := http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestReadyzFollowsNATS: /readyz is 200 while connected, 503 while the
// server is down, and 200 again once the client reconnected by itself to a
// server restarted on the same port and store; /healthz stays 200, and
// /metrics shows the connection going down and the reconnect.
func TestReadyzFollowsNATS(t *testing.T) {
	_, natsPort := freeAddr(t)
	dir := t.TempDir()
	srv := fntest.NewServerAt(t, natsPort, dir)
	svc := runtime.NewService(runtime.ServiceConfig{Name: "ready", Version: "1.0.0"})
	jobsStream(svc)
	runtime.OnEvent(svc, "work", jobsIn, func(ctx context.Context, in event) error {
		return nil
	})
	opsAddr, _ := freeAddr(t)
	cfg := srv.Config("ready")
	cfg.OpsAddr = opsAddr
	inst := fntest.RunConfig(t, cfg, svc)
	base := "http://" + opsAddr

	status := func(path string) func() bool {
		return func() bool { code, _ := get(t, base+path); return code == http.StatusOK }
	}
	fntest.Eventually(t, 20*time.Second, "/readyz 200", status("/readyz"))
	// The binaries' `healthcheck` and `healthcheck ready` modes probe them.
	if runtime.Healthcheck(opsAddr) != 0 || runtime.Healthcheck(opsAddr, "ready") != 0 {
		t.Fatal("healthcheck modes fail while ready")
	}
	if runtime.Healthcheck(opsAddr, "bogus") != 1 {
		t.Fatal("healthcheck accepted an unknown mode")
	}

	srv.Stop()
	fntest.Eventually(t, 10*time.Second, "/readyz 503 with NATS down", func() bool {
		code, _ := get(t, base+"/readyz")
		return code == http.StatusServiceUnavailable
	})
	if code, _ := get(t, base+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz %d while NATS is down, want 200", code)
	}
	if runtime.Healthcheck(opsAddr) != 0 || runtime.Healthcheck(opsAddr, "ready") != 1 {
		t.Fatal("healthcheck: alive should pass and ready fail while NATS is down")
	}
	if _, body := get(t, base+"/metrics"); !strings.Contains(body, `natsfn_nats_connected{function="ready"} 0`) {
		t.Fatalf("/metrics while NATS is down:\n%s", body)
	}

	fntest.NewServerAt(t, natsPort, dir)
	fntest.Eventually(t, 20*time.Second, "/readyz 200 after NATS is back", status("/readyz"))
	if _, body := get(t, base+"/metrics"); !strings.Contains(body, `natsfn_nats_connected{function="ready"} 1`) ||
		!strings.Contains(body, `natsfn_nats_reconnects_total{function="ready"} 1`) {
		t.Fatalf("/metrics after the reconnect:\n%s", body)
	}
	// Stop before the cleanup stops the server: draining needs NATS.
	if err := inst.Stop(); err != nil {
		t.Fatalf("stop after reconnect: %v", err)
	}
}

// TestMetricsScrape: /metrics is Prometheus text that parses, and it has
// every metric runtime/README.md documents.
func TestMetricsScrape(t *testing.T) {
	srv := fntest.NewServer(t)
	svc := runtime.NewService(runtime.ServiceConfig{Name: "scraped", Version: "1.0.0"})
	jobsStream(svc)
	runtime.Endpoint(svc, "say", func(ctx context.Context, in echoIn) (echoOut, error) {
		if in.Msg == "bad" {
			return echoOut{}, runtime.Errorf(runtime.ErrInvalid, "bad")
		}
		return echoOut{Echo: in.Msg}, nil
	})
	runtime.OnEvent(svc, "strict", jobsIn, func(ctx context.Context, in event) error {
		return runtime.Errorf(runtime.ErrInvalid, "never")
	})
	var flaky atomic.Bool
	runtime.OnEvent(svc, "flaky", jobsIn, func(ctx context.Context, in event) error {
		if flaky.CompareAndSwap(false, true) {
			return runtime.Errorf(runtime.ErrUnavailable, "once")
		}
		return nil
	}, runtime.BackOff(20*time.Millisecond))
	svc.Gauge("scraped.breaker.state", "0 closed, 1 half-open, 2 open.", func() int64 { return 1 })
	opsAddr, _ := freeAddr(t)
	cfg := srv.Config("scrape")
	cfg.OpsAddr = opsAddr
	fntest.RunConfig(t, cfg, svc)
	nc := srv.Connect(t)
	for _, body := range []string{`{"msg":"ok"}`, `{"msg":"bad"}`} {
		if _, err := nc.Request("scraped.say", []byte(body), 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	js := srv.JetStream(t)
	publish(t, js, jobsIn, event{ID: "x"})
	fntest.Eventually(t, 20*time.Second, "a dead letter", func() bool {
		return subjectCount(t, js, deadletter.Stream, "deadletter.scraped.strict") == 1
	})

	var families map[string]*dto.MetricFamily
	fntest.Eventually(t, 20*time.Second, "metrics with the dead letter", func() bool {
		code, body := get(t, "http://"+opsAddr+"/metrics")
		if code != http.StatusOK {
			return false
		}
		parser := expfmt.NewTextParser(model.UTF8Validation)
		mf, err := parser.TextToMetricFamilies(strings.NewReader(body))
		if err != nil {
			t.Fatalf("/metrics does not parse: %v\n%s", err, body)
		}
		families = mf
		f := families["natsfn_dead_letters_total"]
		r := families["natsfn_event_redeliveries_total"]
		return f != nil && len(f.Metric) == 1 && f.Metric[0].GetCounter().GetValue() == 1 &&
			r != nil && len(r.Metric) == 1 && r.Metric[0].GetCounter().GetValue() == 1
	})
	for name, typ := range documentedMetrics {
		f := families[name]
		if f == nil {
			t.Errorf("/metrics lacks %s", name)
			continue
		}
		if got := f.GetType().String(); got != typ {
			t.Errorf("%s is a %s, documented as %s", name, got, typ)
		}
	}
	label := func(name string, want map[string]string) float64 {
		for _, m := range families[name].GetMetric() {
			match := 0
			for _, l := range m.GetLabel() {
				if want[l.GetName()] == l.GetValue() {
					match++
				}
			}
			if match == len(want) {
				switch {
				case m.Counter != nil:
					return m.GetCounter().GetValue()
				case m.Gauge != nil:
					return m.GetGauge().GetValue()
				}
			}
		}
		return -1
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"natsfn_handled_total", map[string]string{"function": "scraped", "handler": "say", "outcome": "ok"}, 1},
		{"natsfn_handler_errors_total", map[string]string{"handler": "say", "code": "400"}, 1},
		{"natsfn_event_settled_total", map[string]string{"handler": "strict", "action": "term"}, 1},
		{"natsfn_nats_connected", map[string]string{"function": "scraped"}, 1},
		{"scraped_breaker_state", map[string]string{"function": "scraped"}, 1},
	} {
		if got := label(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if t.Failed() {
		_, body := get(t, "http://"+opsAddr+"/metrics")
		fmt.Println(body)
	}
}

// documentedMetrics are the Prometheus names and types runtime/README.md
// lists under "## Metrics".
var documentedMetrics = map[string]string{
	"natsfn_handled_total":            "COUNTER",
	"natsfn_handler_errors_total":     "COUNTER",
	"natsfn_handler_duration_seconds": "HISTOGRAM",
	"natsfn_handler_in_flight":        "GAUGE",
	"natsfn_event_redeliveries_total": "COUNTER",
	"natsfn_event_settled_total":      "COUNTER",
	"natsfn_dead_letters_total":       "COUNTER",
	"natsfn_consumer_pending":         "GAUGE",
	"natsfn_consumer_ack_pending":     "GAUGE",
	"natsfn_nats_connected":           "GAUGE",
	"natsfn_nats_reconnects_total":    "COUNTER",
	"scraped_breaker_state":           "GAUGE",
}
