package scaffold

import (
	"strings"
	"testing"
)

func TestInsertAt(t *testing.T) {
	content := "services:\n  a-1:\n  # natsfn new: services (explained)\n\n  # natsfn new: services2\n  // natsfn new: console\n"
	got, err := insertAt("compose.yaml", []byte(content), "services", []byte("  b-1:\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := "services:\n  a-1:\n  b-1:\n  # natsfn new: services (explained)\n\n  # natsfn new: services2\n  // natsfn new: console\n"
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	for _, c := range []struct{ content, marker, why string }{
		{"a\nb\n", "services", `compose.yaml has no marker line "natsfn new: services"`},
		{"# natsfn new: services\n# natsfn new: services\n", "services", "2 marker lines"},
		{"# natsfn new: servicesx\n", "services", "no marker line"},
		{"x = 1 # natsfn new: services\n", "services", "no marker line"}, // not a comment line
		{"// natsfn new: console requests\n", "console", "no marker line"},
	} {
		_, err := insertAt("compose.yaml", []byte(c.content), c.marker, []byte("x\n"))
		if err == nil || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%q at %q: %v; want %q", c.content, c.marker, err, c.why)
		}
	}
}
