package observability

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
)

// loadRules parses alerts.yaml with Prometheus's rule parser, which also
// parses every expr and template, and returns the alerts by name.
func loadRules(t *testing.T) map[string]rulefmt.Rule {
	t.Helper()
	groups, errs := rulefmt.ParseFile("alerts.yaml", false, model.UTF8Validation, promql, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Error(err)
	}
	if len(errs) > 0 {
		t.FailNow()
	}
	rules := map[string]rulefmt.Rule{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s: a rule without an alert name (recording rules belong elsewhere)", g.Name)
				continue
			}
			if _, dup := rules[r.Alert]; dup {
				t.Errorf("alert %s is defined twice", r.Alert)
			}
			rules[r.Alert] = r
		}
	}
	return rules
}

func TestAlertRules(t *testing.T) {
	rules := loadRules(t)
	// What the operator asked for: a growing backlog, a non-empty
	// dead-letter stream, an open breaker, the error rate, p99 latency.
	for _, name := range []string{
		"NatsfnBacklogGrowing", "NatsfnDeadLetters", "NatsfnPaymentBreakerOpen",
		"NatsfnHighErrorRate", "NatsfnRequestLatencyHigh",
	} {
		if _, ok := rules[name]; !ok {
			t.Errorf("no alert %s", name)
		}
	}
	for name, r := range rules {
		if sev := r.Labels["severity"]; sev != "warning" && sev != "critical" {
			t.Errorf("%s: severity %q, want warning or critical", name, sev)
		}
		if r.Annotations["summary"] == "" {
			t.Errorf("%s: no summary", name)
		}
		if _, err := metricNames(r.Expr); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestRuleParserRejectsMistakes makes sure the parser above can fail: a
// broken expression, a misspelt field and a bad template are refused.
func TestRuleParserRejectsMistakes(t *testing.T) {
	const good = `groups:
  - name: g
    rules:
      - alert: A
        expr: sum(rate(natsfn_handled_total[5m])) > 1
        for: 5m
        labels: {severity: warning}
        annotations: {summary: "{{ $value }}"}
`
	parse := func(s string) []error {
		_, errs := rulefmt.Parse([]byte(s), false, model.UTF8Validation, promql, slog.New(slog.DiscardHandler))
		return errs
	}
	if errs := parse(good); len(errs) > 0 {
		t.Fatalf("the good rule is refused: %v", errs)
	}
	for name, bad := range map[string]string{
		"bad expr":       strings.Replace(good, "[5m])) > 1", "[5m]) > 1", 1),
		"misspelt field": strings.Replace(good, "annotations:", "anotations:", 1),
		"bad template":   strings.Replace(good, "{{ $value }}", "{{ $value ", 1),
		"bad duration":   strings.Replace(good, "for: 5m", "for: five", 1),
	} {
		if errs := parse(bad); len(errs) == 0 {
			t.Errorf("%s: accepted", name)
		}
	}
}
