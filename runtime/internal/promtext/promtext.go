// Package promtext serves an OpenTelemetry SDK meter provider's metrics
// in the Prometheus text exposition format (0.0.4), with the Go runtime's
// and the process's own figures beside them.
//
// It stands in for the SDK's Prometheus exporter, which writes through
// prometheus/client_golang: that library and its data model (generated
// protobuf types) were 0.9 MB of a 14.3 MB function binary, and with the
// OTLP types (internal/otlp) they kept the protobuf runtime linked; the
// two replacements took the binary to 11.8 MB and package initialisation
// down by 1–3 ms (README, "Cold start"). The names follow the exporter's rules as the runtime used them
// (dots become underscores, a unit suffix, _total on counters, target_info
// for the resource, no scope labels), so dashboards and alerts read the
// same series; promtext_test.go scrapes both side by side.
package promtext

import (
	"bufio"
	"context"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Collector is what Handler reads on each scrape: an SDK metric reader.
type Collector interface {
	Collect(ctx context.Context, rm *metricdata.ResourceMetrics) error
}

// Handler serves r's metrics, then the Go runtime's and the process's
// (go_*, process_*), in the text format, families sorted by name.
func Handler(r Collector) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var rm metricdata.ResourceMetrics
		if err := r.Collect(req.Context(), &rm); err != nil {
			http.Error(w, "collect metrics: "+err.Error(), http.StatusInternalServerError)
			return
		}
		fams := families{}
		fams.addResource(&rm)
		for _, sm := range rm.ScopeMetrics {
			for _, m := range sm.Metrics {
				fams.addMetric(m)
			}
		}
		addRuntime(fams)
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		bw := bufio.NewWriter(w)
		fams.write(bw)
		_ = bw.Flush()
	})
}

// family is one metric name's HELP, TYPE and samples.
type family struct {
	name, help, typ string
	samples         []sample
}

// sample is one line: the family's name plus suffix (_bucket, _sum,
// _count or none), its labels rendered, a bucket's bound, and its value.
type sample struct {
	suffix string
	labels string // `a="x",b="y"`, sorted by name; "" for none
	le     string // a bucket's upper bound, rendered; "" for other lines
	value  float64
}

type families map[string]*family

func (fs families) get(name, help, typ string) *family {
	f := fs[name]
	if f == nil {
		f = &family{name: name, help: help, typ: typ}
		fs[name] = f
	}
	return f
}

func (fs families) addResource(rm *metricdata.ResourceMetrics) {
	if rm.Resource == nil || rm.Resource.Len() == 0 {
		return
	}
	f := fs.get("target_info", "Target metadata", "gauge")
	f.samples = append(f.samples, sample{labels: labels(*rm.Resource.Set()), value: 1})
}

// addMetric adds the samples of one SDK metric under its Prometheus name.
func (fs families) addMetric(m metricdata.Metrics) {
	base := sanitize(m.Name, true) + unitSuffix(m.Unit)
	switch d := m.Data.(type) {
	case metricdata.Sum[int64]:
		addSum(fs, base, m.Description, d.IsMonotonic, d.DataPoints)
	case metricdata.Sum[float64]:
		addSum(fs, base, m.Description, d.IsMonotonic, d.DataPoints)
	case metricdata.Gauge[int64]:
		addPoints(fs.get(base, m.Description, "gauge"), d.DataPoints)
	case metricdata.Gauge[float64]:
		addPoints(fs.get(base, m.Description, "gauge"), d.DataPoints)
	case metricdata.Histogram[int64]:
		addHistogram(fs.get(base, m.Description, "histogram"), d.DataPoints)
	case metricdata.Histogram[float64]:
		addHistogram(fs.get(base, m.Description, "histogram"), d.DataPoints)
	}
	// Exponential histograms and summaries have no 0.0.4 form here; the
	// runtime's views make neither.
}

func addSum[N int64 | float64](fs families, base, help string, monotonic bool, pts []metricdata.DataPoint[N]) {
	if !monotonic {
		addPoints(fs.get(base, help, "gauge"), pts)
		return
	}
	if !strings.HasSuffix(base, "_total") {
		base += "_total"
	}
	addPoints(fs.get(base, help, "counter"), pts)
}

func addPoints[N int64 | float64](f *family, pts []metricdata.DataPoint[N]) {
	for _, p := range pts {
		f.samples = append(f.samples, sample{labels: labels(p.Attributes), value: float64(p.Value)})
	}
}

func addHistogram[N int64 | float64](f *family, pts []metricdata.HistogramDataPoint[N]) {
	for _, p := range pts {
		ls := labels(p.Attributes)
		var cumulative uint64
		for i, bound := range p.Bounds {
			if i < len(p.BucketCounts) {
				cumulative += p.BucketCounts[i]
			}
			f.samples = append(f.samples, sample{suffix: "_bucket", labels: ls, le: formatFloat(bound), value: float64(cumulative)})
		}
		f.samples = append(f.samples,
			sample{suffix: "_bucket", labels: ls, le: "+Inf", value: float64(p.Count)},
			sample{suffix: "_sum", labels: ls, value: float64(p.Sum)},
			sample{suffix: "_count", labels: ls, value: float64(p.Count)})
	}
}

// write renders the families sorted by name, each family's series sorted
// by their labels (the sort is stable: a histogram's lines stay in order).
func (fs families) write(w *bufio.Writer) {
	names := make([]string, 0, len(fs))
	for n := range fs {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		f := fs[n]
		if f.help != "" {
			w.WriteString("# HELP " + n + " " + escapeHelp(f.help) + "\n")
		}
		w.WriteString("# TYPE " + n + " " + f.typ + "\n")
		slices.SortStableFunc(f.samples, func(a, b sample) int { return strings.Compare(a.labels, b.labels) })
		for _, s := range f.samples {
			w.WriteString(n + s.suffix)
			ls := s.labels
			if s.le != "" {
				ls = strings.TrimPrefix(ls+`,le="`+s.le+`"`, ",")
			}
			if ls != "" {
				w.WriteString("{" + ls + "}")
			}
			w.WriteString(" " + formatFloat(s.value) + "\n")
		}
	}
}

// labels renders set as name="value" pairs sorted by name.
func labels(set attribute.Set) string {
	var sb strings.Builder
	pairs := make([][2]string, 0, set.Len())
	it := set.Iter()
	for it.Next() {
		kv := it.Attribute()
		pairs = append(pairs, [2]string{sanitize(string(kv.Key), false), kv.Value.Emit()})
	}
	slices.SortFunc(pairs, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	for i, p := range pairs {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(p[0] + `="` + escapeValue(p[1]) + `"`)
	}
	return sb.String()
}

// sanitize makes a metric (colons allowed) or label name valid: every
// other character outside [a-zA-Z0-9_] becomes '_', runs of '_' become
// one, and a leading digit gets a '_' before it.
func sanitize(name string, metric bool) string {
	var sb strings.Builder
	for i, r := range name {
		ok := r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9' && i > 0) ||
			(metric && r == ':')
		if i == 0 && r >= '0' && r <= '9' {
			sb.WriteByte('_')
			ok = true
		}
		switch {
		case ok:
			sb.WriteRune(r)
		case !strings.HasSuffix(sb.String(), "_"):
			sb.WriteByte('_')
		}
	}
	return sb.String()
}

// unitSuffix is the Prometheus suffix of an OpenTelemetry unit, for the
// units whose name the exporter spells out; others add none.
func unitSuffix(unit string) string {
	switch unit {
	case "s":
		return "_seconds"
	case "ms":
		return "_milliseconds"
	case "By":
		return "_bytes"
	}
	return ""
}

func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func escapeValue(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`, `"`, `\"`).Replace(s)
}

// formatFloat writes a value as the text format does: +Inf, -Inf, NaN,
// else the shortest decimal that reads back the same.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}
