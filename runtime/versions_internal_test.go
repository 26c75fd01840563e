package runtime

import (
	"testing"

	"github.com/natsfn/natsfn/contracts"
)

// The runtime reads the contracts through interfaces, without importing
// them: an Event must stay a versioned topic with a document.
var (
	_ versioned                      = contracts.Event{}
	_ interface{ Document() []byte } = contracts.Event{}
	_ interface{ Document() []byte } = (*contracts.Schema)(nil)
)

func TestParsePhase(t *testing.T) {
	for in, want := range map[string]string{"v1": "v1", "dual": "dual", " DUAL ": "dual", "v2": "v2", "v2+v1": "dual", "v2+v3": "v2+v3"} {
		p, err := parsePhase(in)
		if err != nil || p.String() != want {
			t.Errorf("parsePhase(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	for _, in := range []string{"", "v0", "v", "1", "v01", "v1+v1", "dual+v3", "both"} {
		if _, err := parsePhase(in); err == nil {
			t.Errorf("parsePhase(%q) accepted", in)
		}
	}
}

func TestTwinOf(t *testing.T) {
	e := &eventRun{order: []string{"x.v2", "x"}}
	for _, c := range []struct {
		subject, twins string
		want           bool
	}{
		{"x", "x.v2", true}, {"x.v2", "x", false}, {"x", "", false}, {"x", "x.v3", false}, {"x", "y,x.v2", true},
	} {
		if got := e.twinOf(c.subject, c.twins); got != c.want {
			t.Errorf("twinOf(%s, %q) = %v", c.subject, c.twins, got)
		}
	}
	if (&eventRun{order: []string{"x"}}).twinOf("x", "x.v2") {
		t.Error("a handler of one major handles every copy it gets")
	}
}
