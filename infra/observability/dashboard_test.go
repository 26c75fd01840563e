package observability

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// dashboard is the part of Grafana's dashboard JSON the tests read.
type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos struct {
		H, W, X, Y int
	} `json:"gridPos"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile("dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	var d dashboard
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	return d
}

// queries returns every panel's queries as plain PromQL, by panel title.
func (d dashboard) queries(t *testing.T) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			for _, q := range p.Targets {
				expr, err := plainPromQL(q.Expr)
				if err != nil {
					t.Errorf("panel %q: %v", p.Title, err)
					continue
				}
				out[p.Title] = append(out[p.Title], expr)
			}
		}
	}
	walk(d.Panels)
	return out
}

func TestDashboardParses(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q", d.UID, d.Title)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
	}
	if vars["datasource"] != "datasource" || vars["function"] != "query" {
		t.Errorf("variables %v, want a datasource and a function selector", vars)
	}
	ids := map[int]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if other, dup := ids[p.ID]; dup {
				t.Errorf("panels %q and %q share the id %d", other, p.Title, p.ID)
			}
			ids[p.ID] = p.Title
			if p.GridPos.X+p.GridPos.W > 24 || p.GridPos.W <= 0 || p.GridPos.H <= 0 {
				t.Errorf("panel %q: gridPos %+v outside the 24 columns", p.Title, p.GridPos)
			}
			if p.Type == "row" {
				continue
			}
			if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q does not use the datasource variable", p.Title)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
		}
	}
	walk(d.Panels)
	queries := d.queries(t)
	if len(queries) < 10 {
		t.Errorf("%d panels with queries", len(queries))
	}
	for title, exprs := range queries {
		for _, e := range exprs {
			if _, err := metricNames(e); err != nil {
				t.Errorf("panel %q: %q: %v", title, e, err)
			}
		}
	}
}

func TestUnknownVariableIsCaught(t *testing.T) {
	if _, err := plainPromQL(`rate(natsfn_handled_total{function=~"$fn"}[$__rate_interval])`); err == nil {
		t.Error("$fn passed")
	}
	if _, err := metricNames(`sum(rate(natsfn_handled_total[5m])`); err == nil {
		t.Error("an unbalanced query parsed")
	}
}
