package fntest

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Metrics is a meter provider a test reads when it wants, for
// runtime.Config.MeterProvider: the runtime's metrics and a function's own
// land in it, and Value reads them by name and labels.
//
//	m := fntest.NewMetrics()
//	cfg := srv.Config("i1")
//	cfg.MeterProvider = m
//	fntest.RunConfig(t, cfg, svc)
//	...
//	n, _ := m.Value("natsfn.handled", "handler", "create", "outcome", "ok")
type Metrics struct {
	*sdkmetric.MeterProvider
	reader *sdkmetric.ManualReader
}

// NewMetrics returns a meter provider read on demand. Shut it down (or let
// the process end) when done.
func NewMetrics() *Metrics {
	reader := sdkmetric.NewManualReader()
	return &Metrics{MeterProvider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)), reader: reader}
}

// Value sums the points of the instrument name (as the OpenTelemetry API
// names it: "natsfn.handled", not Prometheus's natsfn_handled_total) whose
// attributes include every key, value pair in labels: the value of a
// counter or gauge, the count of a histogram. ok is false while no point
// matches (or the provider is shut down).
func (m *Metrics) Value(name string, labels ...string) (total int64, ok bool) {
	var rm metricdata.ResourceMetrics
	if err := m.reader.Collect(context.Background(), &rm); err != nil {
		return 0, false
	}
	match := func(set attribute.Set) bool {
		for i := 0; i+1 < len(labels); i += 2 {
			if v, found := set.Value(attribute.Key(labels[i])); !found || v.Emit() != labels[i+1] {
				return false
			}
		}
		return true
	}
	add := func(set attribute.Set, v int64) {
		if match(set) {
			total, ok = total+v, true
		}
	}
	for _, sm := range rm.ScopeMetrics {
		for _, md := range sm.Metrics {
			if md.Name != name {
				continue
			}
			switch d := md.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					add(p.Attributes, p.Value)
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					add(p.Attributes, p.Value)
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					add(p.Attributes, int64(p.Count))
				}
			}
		}
	}
	return total, ok
}
