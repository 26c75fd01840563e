package promtext

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.opentelemetry.io/otel/attribute"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
)

// TestAsTheExporter: one meter provider read by Handler and by the SDK's
// Prometheus exporter (as the runtime configured it before: no scope
// labels); every family the exporter writes is written by Handler with
// the same type, help and series, values included, and Handler writes no
// other family than go_* and process_*.
func TestAsTheExporter(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		t.Fatal(err)
	}
	ours := sdkmetric.NewManualReader()
	res := resource.NewSchemaless(attribute.String("service.name", "orders"), attribute.String("service.instance.id", "i-1"))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithReader(ours), sdkmetric.WithResource(res))
	defer func() { _ = mp.Shutdown(ctx) }()
	m := mp.Meter("github.com/natsfn/natsfn/runtime")
	record(t, ctx, m)

	theirs := scrape(t, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	got := scrape(t, Handler(ours))
	if len(theirs) < 7 {
		t.Fatalf("the exporter wrote %d families, want the 7 recorded and target_info", len(theirs))
	}
	for name, want := range theirs {
		g, ok := got[name]
		if !ok {
			t.Errorf("family %s missing", name)
			continue
		}
		if g.GetType() != want.GetType() || g.GetHelp() != want.GetHelp() {
			t.Errorf("%s: type %v help %q, want %v %q", name, g.GetType(), g.GetHelp(), want.GetType(), want.GetHelp())
		}
		if gs, ws := series(g), series(want); !slices.Equal(gs, ws) {
			t.Errorf("%s series:\n%s\nwant\n%s", name, strings.Join(gs, "\n"), strings.Join(ws, "\n"))
		}
	}
	for name := range got {
		if _, ok := theirs[name]; !ok && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
			t.Errorf("family %s written, the exporter has none", name)
		}
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "go_info", "process_cpu_seconds_total",
		"process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds"} {
		f, ok := got[name]
		if !ok || len(f.GetMetric()) != 1 {
			t.Errorf("%s: missing", name)
			continue
		}
		if v := value(f.GetMetric()[0]); v <= 0 {
			t.Errorf("%s = %v, want > 0", name, v)
		}
	}
}

func record(t *testing.T, ctx context.Context, m metric.Meter) {
	t.Helper()
	set := func(kv ...attribute.KeyValue) metric.MeasurementOption {
		return metric.WithAttributeSet(attribute.NewSet(kv...))
	}
	handled, err := m.Int64Counter("natsfn.handled", metric.WithDescription("Messages handled, by outcome."))
	if err != nil {
		t.Fatal(err)
	}
	handled.Add(ctx, 3, set(attribute.String("handler", "create"), attribute.String("outcome", "ok")))
	handled.Add(ctx, 1, set(attribute.String("handler", "create"), attribute.String("outcome", "error")))
	handled.Add(ctx, 1e6, set(attribute.String("handler", `odd "quoted" \ back`+"\nline"), attribute.String("outcome", "ok")))
	total, _ := m.Float64Counter("payments.charged_total", metric.WithDescription("Already ends in _total."))
	total.Add(ctx, 2.5)
	dur, _ := m.Float64Histogram("natsfn.handler.duration", metric.WithUnit("s"),
		metric.WithDescription("Time in the handler chain.\nSecond line \\ with a backslash."),
		metric.WithExplicitBucketBoundaries(.0005, .001, .01, 1, 10))
	for _, v := range []float64{0.0001, 0.0007, 0.02, 0.02, 3, 20} {
		dur.Record(ctx, v, set(attribute.String("handler", "create")))
	}
	dur.Record(ctx, 0.002, set(attribute.String("handler", "get")))
	size, _ := m.Int64Histogram("natsfn.payload.size", metric.WithUnit("By"), metric.WithExplicitBucketBoundaries(100, 1000))
	size.Record(ctx, 512)
	depth, _ := m.Int64UpDownCounter("natsfn.queue.depth", metric.WithDescription("Up and down."))
	depth.Add(ctx, 5)
	depth.Add(ctx, -2)
	_, err = m.Int64ObservableGauge("natsfn.consumer.pending", metric.WithDescription("Pending."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(42, metric.WithAttributes(attribute.String("handler", "reserve")))
			o.Observe(0, metric.WithAttributes(attribute.String("handler", "charge")))
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Int64ObservableCounter("natsfn.nats.reconnects", metric.WithDescription("Reconnections."),
		metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
			o.Observe(7)
			return nil
		}))
	if err != nil {
		t.Fatal(err)
	}
}

// scrape GETs h's text and parses it as Prometheus does.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("parse the scrape: %v\n%s", err, rec.Body)
	}
	return fams
}

// series renders a family's metrics one line each, sorted: labels, then
// the value (a histogram's buckets, sum and count).
func series(f *dto.MetricFamily) []string {
	var out []string
	for _, m := range f.GetMetric() {
		var ls []string
		for _, l := range m.GetLabel() {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		slices.Sort(ls)
		line := strings.Join(ls, ",") + fmt.Sprintf(" %v", value(m))
		if h := m.GetHistogram(); h != nil {
			for _, b := range h.GetBucket() {
				line += fmt.Sprintf(" le%v:%d", b.GetUpperBound(), b.GetCumulativeCount())
			}
			line += fmt.Sprintf(" sum:%v count:%d", h.GetSampleSum(), h.GetSampleCount())
		}
		out = append(out, line)
	}
	slices.Sort(out)
	return out
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	return 0
}

// TestSanitize: names become valid Prometheus names.
func TestSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"natsfn.handled": "natsfn_handled", "a..b": "a_b", "9lives": "_9lives", "ok:sub": "ok:sub", "héllo": "h_llo",
	} {
		if got := sanitize(in, true); got != want {
			t.Errorf("sanitize(%q) = %q, want %q", in, got, want)
		}
	}
	if got := sanitize("ok:sub", false); got != "ok_sub" {
		t.Errorf("a label name keeps no colon: %q", got)
	}
}

// TestHistogramLinesInOrder: a histogram series' lines come together, its
// buckets in increasing order then _sum and _count, whatever its labels
// are called (a label named like "title" ends in "le").
func TestHistogramLinesInOrder(t *testing.T) {
	ctx := context.Background()
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer func() { _ = mp.Shutdown(ctx) }()
	h, _ := mp.Meter("t").Float64Histogram("d", metric.WithExplicitBucketBoundaries(1, 2))
	h.Record(ctx, 1.5, metric.WithAttributes(attribute.String("title", "b")))
	h.Record(ctx, 0.5, metric.WithAttributes(attribute.String("title", "a")))
	rec := httptest.NewRecorder()
	Handler(reader).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	var lines []string
	for l := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(l, "d_") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	want := []string{
		`d_bucket{title="a",le="1"} 1`, `d_bucket{title="a",le="2"} 1`, `d_bucket{title="a",le="+Inf"} 1`,
		`d_sum{title="a"} 0.5`, `d_count{title="a"} 1`,
		`d_bucket{title="b",le="1"} 0`, `d_bucket{title="b",le="2"} 1`, `d_bucket{title="b",le="+Inf"} 1`,
		`d_sum{title="b"} 1.5`, `d_count{title="b"} 1`,
	}
	if !slices.Equal(lines, want) {
		t.Fatalf("lines:\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}
