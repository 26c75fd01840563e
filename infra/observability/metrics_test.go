package observability

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
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

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/functions/orders"
	"github.com/natsfn/natsfn/functions/payments"
	"github.com/natsfn/natsfn/infra/nats/exporter"
	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/deadletter"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestEveryMetricExists runs orders, inventory and payments in-process on a
// real nats-server (JetStream, monitoring port), takes them through what
// the dashboard and the alerts watch (orders confirmed and cancelled, a bad
// request, a dead letter, a gateway outage that opens the breaker, a cancel
// that refunds, a reconnect), scrapes the functions' /metrics and
// nats-exporter's over HTTP, and checks that every metric named by
// dashboard.json and alerts.yaml is there.
func TestEveryMetricExists(t *testing.T) {
	used := map[string][]string{} // metric -> where it is used
	for name, r := range loadRules(t) {
		names, err := metricNames(r.Expr)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			used[n] = append(used[n], "alert "+name)
		}
	}
	for title, exprs := range loadDashboard(t).queries(t) {
		for _, e := range exprs {
			names, err := metricNames(e)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range names {
				used[n] = append(used[n], "panel "+title)
			}
		}
	}

	s := startFlow(t)
	s.exercise(t)
	exported := s.scrape(t, s.opsURL+"/metrics")
	for name, f := range s.scrape(t, s.exporterURL+"/metrics") {
		exported[name] = f
	}
	for name, where := range used {
		if !s.has(exported, name) {
			t.Errorf("%s (used by %s) is not exported", name, strings.Join(where, ", "))
		}
	}
	if t.Failed() {
		var names []string
		for n := range exported {
			names = append(names, n)
		}
		t.Logf("exported: %s", strings.Join(sortedKeys(setOf(names)), " "))
	}
}

func setOf(xs []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// has reports whether a query's metric name is exported: a histogram's
// _bucket, _sum and _count series belong to its family.
func (s *flow) has(families map[string]*dto.MetricFamily, name string) bool {
	if f := families[name]; f != nil && len(f.Metric) > 0 {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok {
			if f := families[base]; f != nil && f.GetType() == dto.MetricType_HISTOGRAM && len(f.Metric) > 0 {
				return true
			}
		}
	}
	return false
}

// flow is the three functions on one server, with their ops port and an
// exporter reading the server's monitoring port.
type flow struct {
	srv         *server.Server
	opts        *server.Options
	nc          *nats.Conn
	js          jetstream.JetStream
	opsURL      string
	exporterURL string
}

func startFlow(t *testing.T) *flow {
	t.Helper()
	opts := &server.Options{
		ServerName: "nats-1", Host: "127.0.0.1", Port: freePort(t), HTTPHost: "127.0.0.1", HTTPPort: freePort(t),
		JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true, MaxPayload: 8 << 20,
	}
	f := &flow{opts: opts}
	f.start(t)

	ops := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	f.opsURL = "http://" + ops
	fntest.RunConfig(t, runtime.Config{
		NATSURL: f.srv.ClientURL(), InstanceID: "metrics-test", LogLevel: "info", LogFormat: "text",
		OpsAddr: ops, ShutdownTimeout: 10 * time.Second, ConnectTimeout: 10 * time.Second, Replicas: 1,
		Logger: slog.New(slog.DiscardHandler),
	},
		orders.New(orders.Config{}),
		inventory.New(inventory.Config{}),
		payments.New(payments.Config{Breaker: payments.BreakerConfig{Failures: 2, OpenTimeout: 500 * time.Millisecond}}),
	)

	nc, err := nats.Connect(f.srv.ClientURL(), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	f.nc = nc
	if f.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	h, err := exporter.Handler([]string{"http://" + f.srv.MonitorAddr().String()}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	es := httptest.NewServer(h)
	t.Cleanup(es.Close)
	f.exporterURL = es.URL
	return f
}

// start runs the server with f.opts: the first time, and again after a
// restart on the same port and store.
func (f *flow) start(t *testing.T) {
	t.Helper()
	srv, err := server.NewServer(f.opts)
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	f.srv = srv
}

// freePort is a loopback port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// exercise takes the flow through every path a panel or an alert watches.
func (f *flow) exercise(t *testing.T) {
	t.Helper()
	f.call(t, contracts.SubjectInventoryStockSet, contracts.SetStockRequest{ProductID: "sku-a", Quantity: 100, PriceCents: 500}, nil)

	// A confirmed order: handled, latency, acks, pending, charges, breaker state.
	f.settle(t, f.place(t, "c-ok"), contracts.StatusConfirmed)

	// Bad input: a 400.
	if code := f.request(t, contracts.SubjectOrdersCreate, []byte(`{"customer_id":"c-bad","items":[]}`)); code != "400" {
		t.Fatalf("bad request answered %q, want 400", code)
	}

	// A dead letter: an orders.created that breaks its schema is
	// terminated by inventory's reserve and stored in DEADLETTER.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := f.js.Publish(ctx, contracts.SubjectOrdersCreated, []byte(`{"not":"an order"}`), jetstream.WithMsgID("poison-1")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "a dead letter", func() error {
		st, err := f.js.Stream(ctx, deadletter.Stream)
		if err != nil {
			return err
		}
		if n := st.CachedInfo().State.Msgs; n == 0 {
			info, err := st.Info(ctx)
			if err != nil || info.State.Msgs == 0 {
				return fmt.Errorf("DEADLETTER is empty (%v)", err)
			}
		}
		return nil
	})

	// A gateway outage: charges fail, the breaker opens, the charge
	// consumer pauses and messages are nak'd, then redelivered once the
	// gateway is back.
	f.gateway(t, contracts.SetGatewayRequest{Mode: contracts.GatewayOutage})
	id := f.place(t, "c-outage")
	waitFor(t, 20*time.Second, "the breaker opened and paused the charges", func() error {
		families := f.scrape(t, f.opsURL+"/metrics")
		for _, name := range []string{"payments_breaker_opens_total", "payments_charge_pauses_total"} {
			if fam := families[name]; fam == nil || len(fam.Metric) == 0 {
				return fmt.Errorf("no %s yet", name)
			}
		}
		return nil
	})
	f.gateway(t, contracts.SetGatewayRequest{Mode: contracts.GatewayOK})
	f.settle(t, id, contracts.StatusConfirmed)

	// A cancel that races a slow charge: once payments has recorded the
	// charge (it takes 3 s at the gateway), the cancel makes it call the
	// charge off at the gateway.
	latency := 3000
	f.gateway(t, contracts.SetGatewayRequest{Mode: contracts.GatewayOK, LatencyMS: &latency})
	id = f.place(t, "c-cancel")
	ledger, err := f.js.KeyValue(ctx, contracts.BucketPayments)
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "payments charging "+id, func() error {
		_, err := ledger.Get(ctx, id)
		return err
	})
	f.call(t, contracts.SubjectOrdersCancel, contracts.CancelOrderRequest{OrderID: id}, nil)
	f.settle(t, id, contracts.StatusCancelled)
	waitFor(t, 30*time.Second, "payment of "+id+" called off", func() error {
		e, err := ledger.Get(ctx, id)
		if err != nil {
			return err
		}
		var r struct {
			State string `json:"state"`
		}
		if err := json.Unmarshal(e.Value(), &r); err != nil {
			return err
		}
		if r.State != "refunded" && r.State != "voided" {
			return fmt.Errorf("payment %s", r.State)
		}
		return nil
	})
	zero := 0
	f.gateway(t, contracts.SetGatewayRequest{Mode: contracts.GatewayOK, LatencyMS: &zero})

	// A reconnect: the server restarts on its port and store.
	f.srv.Shutdown()
	f.srv.WaitForShutdown()
	f.start(t)
	waitFor(t, 20*time.Second, "the functions reconnected", func() error {
		families := f.scrape(t, f.opsURL+"/metrics")
		if fam := families["natsfn_nats_reconnects_total"]; fam == nil || len(fam.Metric) == 0 {
			return fmt.Errorf("no natsfn_nats_reconnects_total yet")
		}
		return nil
	})
	f.settle(t, f.place(t, "c-after"), contracts.StatusConfirmed)
}

func (f *flow) request(t *testing.T, subject string, body []byte) (code string) {
	t.Helper()
	var m *nats.Msg
	var err error
	// Right after a restart the client may still be reconnecting.
	waitFor(t, 15*time.Second, "request "+subject, func() error {
		m, err = f.nc.Request(subject, body, 5*time.Second)
		return err
	})
	return m.Header.Get("Nats-Service-Error-Code")
}

func (f *flow) call(t *testing.T, subject string, in, out any) {
	t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var m *nats.Msg
	waitFor(t, 15*time.Second, "request "+subject, func() error {
		m, err = f.nc.Request(subject, body, 5*time.Second)
		return err
	})
	if code := m.Header.Get("Nats-Service-Error-Code"); code != "" {
		t.Fatalf("%s: %s %s", subject, code, m.Header.Get("Nats-Service-Error"))
	}
	if out != nil {
		if err := json.Unmarshal(m.Data, out); err != nil {
			t.Fatalf("%s: %v", subject, err)
		}
	}
}

func (f *flow) gateway(t *testing.T, req contracts.SetGatewayRequest) {
	t.Helper()
	f.call(t, contracts.SubjectPaymentsGatewaySet, req, nil)
}

func (f *flow) place(t *testing.T, customer string) string {
	t.Helper()
	var r contracts.CreateOrderReply
	f.call(t, contracts.SubjectOrdersCreate, contracts.CreateOrderRequest{
		CustomerID: customer, Items: []contracts.OrderItem{{ProductID: "sku-a", Quantity: 1}},
	}, &r)
	return r.OrderID
}

func (f *flow) settle(t *testing.T, id string, want contracts.OrderStatus) {
	t.Helper()
	waitFor(t, 30*time.Second, "order "+id+" "+string(want), func() error {
		var v contracts.OrderView
		f.call(t, contracts.SubjectOrdersGet, contracts.GetOrderRequest{OrderID: id}, &v)
		if v.Status != want {
			return fmt.Errorf("status %s", v.Status)
		}
		return nil
	})
}

// scrape GETs a /metrics and parses it with Prometheus's text parser.
func (f *flow) scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %s", url, resp.Status, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("%s: %v", url, err)
	}
	return families
}

// waitFor polls cond until it returns nil, failing the test at the deadline.
func waitFor(t *testing.T, within time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, within, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
