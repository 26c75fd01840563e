// Package observability holds the operator's pack: a Grafana dashboard
// (dashboard.json) and Prometheus alert rules (alerts.yaml). Its tests
// parse both with Prometheus's own parsers and check, against the three
// functions running in-process on a real server, that every metric they
// name is on a function's /metrics or nats-exporter's.
package observability

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// promql is Prometheus's own PromQL parser, with its default functions.
var promql = parser.NewParser(parser.Options{})

// metricNames parses expr and returns the metric names its selectors use.
func metricNames(expr string) ([]string, error) {
	e, err := promql.ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		vs, ok := node.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
				name = m.Value
			}
		}
		if name == "" {
			err = fmt.Errorf("%q selects series without naming a metric", vs.String())
		}
		names = append(names, name)
		return nil
	})
	return names, err
}

// grafanaVariables are the dashboard's variables and Grafana's own, with
// values that make a query plain PromQL.
var grafanaVariables = strings.NewReplacer(
	"$__rate_interval", "5m",
	"$__interval", "1m",
	"$__range", "1h",
	`"$function"`, `".*"`,
)

var leftover = regexp.MustCompile(`\$\{?\w+`)

// plainPromQL substitutes the dashboard's variables in a panel query; it
// fails on a variable it does not know.
func plainPromQL(expr string) (string, error) {
	out := grafanaVariables.Replace(expr)
	if v := leftover.FindString(out); v != "" {
		return "", fmt.Errorf("unknown variable %s in %q", v, expr)
	}
	return out, nil
}

// sortedKeys lists a set.
func sortedKeys(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
