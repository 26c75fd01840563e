package scaffold

import (
	"errors"
	"go/parser"
	"go/token"
	"path"
	"strconv"
	"strings"
	"testing"
)

func TestCheckName(t *testing.T) {
	for _, c := range []struct{ name, why string }{
		{"", "needs a name"},
		{"Bad.Name", "'.' separates subject tokens"},
		{"a b", "white space"},
		{"a\tb", "white space"},
		{"orders.*", "'.' separates subject tokens"},
		{">", "'>' is a subject wildcard"},
		{"a*", "'*' is a subject wildcard"},
		{"Greet", "lowercase letters and digits"},
		{"9lives", "starting with a letter"},
		{"my-fn", "lowercase letters and digits"},
		{"my_fn", "lowercase letters and digits"},
		{"héllo", "lowercase letters and digits"},
		{strings.Repeat("a", maxName+1), "longer than 32"},
		{"func", "Go keyword"},
		{"string", "predeclared Go identifier"},
		{"runtime", "reserved"},
		{"deadletter", "DEADLETTER stream"},
		{"natsfn", "all-in-one"},
		{"nats", "image-nats"},
	} {
		err := checkName(c.name)
		if !errors.Is(err, ErrName) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%q: %v; want ErrName saying %q", c.name, err, c.why)
		}
	}
	for _, name := range []string{"greet", "b2b", "x", strings.Repeat("a", maxName)} {
		if err := checkName(name); err != nil {
			t.Errorf("%q refused: %v", name, err)
		}
	}
}

// TestReservedCoversImports: the function's Go files import these
// packages beside the function's own; a function named like one of them
// would not build, so each must be reserved.
func TestReservedCoversImports(t *testing.T) {
	files, err := renderFiles(newData("greet"))
	if err != nil {
		t.Fatal(err)
	}
	seen := 0
	for _, f := range files {
		if !strings.HasSuffix(f.path, ".go") {
			continue
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f.path, f.data, parser.ImportsOnly)
		if err != nil {
			t.Fatalf("%s: %v", f.path, err)
		}
		for _, imp := range parsed.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == modulePath+"/functions/greet" {
				continue
			}
			seen++
			name := strings.TrimSuffix(path.Base(p), ".go") // nats.go is package nats
			if _, ok := reserved[name]; !ok {
				t.Errorf("%s imports %s: reserve the name %q", f.path, p, name)
			}
		}
	}
	if seen < 10 {
		t.Fatalf("found %d imports in the templates", seen)
	}
}
