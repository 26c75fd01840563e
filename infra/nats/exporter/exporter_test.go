package exporter

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// serve runs Handler for servers on a real HTTP listener.
func serve(t *testing.T, servers ...string) string {
	t.Helper()
	h, err := Handler(servers, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}

// scrape GETs /metrics and parses it with Prometheus's own text parser.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return families
}

// value is the value of the series of name whose labels include want.
func value(t *testing.T, families map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f := families[name]
	if f == nil {
		t.Fatalf("no %s", name)
	}
next:
	for _, m := range f.Metric {
		for k, v := range want {
			found := false
			for _, l := range m.Label {
				if l.GetName() == k && l.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Counter != nil:
			return m.Counter.GetValue()
		}
	}
	t.Fatalf("no %s with %v", name, want)
	return 0
}

func TestExporterReadsARealServer(t *testing.T) {
	opts := &server.Options{
		ServerName: "nats-test", Host: "127.0.0.1", Port: -1, HTTPHost: "127.0.0.1", HTTPPort: -1,
		JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("not ready")
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "ORDERS", Subjects: []string{"orders.created"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateOrUpdateConsumer(ctx, "ORDERS", jetstream.ConsumerConfig{Durable: "inventory-reserve", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	for i := range 7 {
		if _, err := js.Publish(ctx, "orders.created", fmt.Appendf(nil, `{"n":%d}`, i)); err != nil {
			t.Fatal(err)
		}
	}

	monitor := "http://" + srv.MonitorAddr().String()
	down := "http://127.0.0.1:1" // nothing listens there
	families := scrape(t, serve(t, monitor, down))

	if v := value(t, families, "nats_server_up", map[string]string{"url": monitor}); v != 1 {
		t.Errorf("up = %v for the running server", v)
	}
	if v := value(t, families, "nats_server_up", map[string]string{"url": down}); v != 0 {
		t.Errorf("up = %v for a server that is not there", v)
	}
	server := map[string]string{"server_name": "nats-test"}
	if v := value(t, families, "gnatsd_varz_connections", server); v != 1 {
		t.Errorf("connections = %v, want 1", v)
	}
	if v := value(t, families, "jetstream_server_total_streams", server); v != 1 {
		t.Errorf("streams = %v, want 1", v)
	}
	if v := value(t, families, "jetstream_server_total_messages", server); v != 7 {
		t.Errorf("messages = %v, want 7", v)
	}
	if v := value(t, families, "jetstream_server_max_storage", server); v <= 0 {
		t.Errorf("max storage = %v", v)
	}
	if v := value(t, families, "jetstream_server_api_requests_total", server); v < 2 {
		t.Errorf("API requests = %v, want at least the stream and consumer creates", v)
	}
	stream := map[string]string{"stream_name": "ORDERS", "is_stream_leader": "true"}
	if v := value(t, families, "jetstream_stream_total_messages", stream); v != 7 {
		t.Errorf("stream messages = %v, want 7", v)
	}
	if v := value(t, families, "jetstream_stream_last_seq", stream); v != 7 {
		t.Errorf("stream last seq = %v, want 7", v)
	}
	consumer := map[string]string{"stream_name": "ORDERS", "consumer_name": "inventory-reserve"}
	if v := value(t, families, "jetstream_consumer_num_pending", consumer); v != 7 {
		t.Errorf("consumer pending = %v, want 7", v)
	}
	if v := value(t, families, "jetstream_consumer_num_ack_pending", consumer); v != 0 {
		t.Errorf("consumer ack pending = %v, want 0", v)
	}
	// Every metric the collector declares shows up against a server with a
	// stream and a consumer.
	for _, m := range allMetrics {
		name := metricName(m)
		if families[name] == nil {
			t.Errorf("%s declared but not exported", name)
		}
	}
}

// metricName reads the fully-qualified name out of a Desc.
func metricName(m metric) string {
	s := m.desc.String()
	const key = `fqName: "`
	i := strings.Index(s, key)
	if i < 0 {
		return ""
	}
	s = s[i+len(key):]
	return s[:strings.Index(s, `"`)]
}

func TestHandlerRefusesBadSettings(t *testing.T) {
	for name, c := range map[string]struct {
		servers []string
		timeout time.Duration
	}{
		"no servers":    {nil, time.Second},
		"not a URL":     {[]string{"nats-1:8222"}, time.Second},
		"no timeout":    {[]string{"http://nats-1:8222"}, 0},
		"a nats:// URL": {[]string{"nats://nats-1:4222"}, time.Second},
	} {
		if _, err := Handler(c.servers, c.timeout); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
