package main

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNewRefuses: `natsfn new` refuses a bad name or bad arguments with
// status 2 and a message that says why, and writes nothing. (A function
// written into a copy of the repository: functions/scaffold's
// TestNewInACopy, which runs this command too.)
func TestNewRefuses(t *testing.T) {
	root := t.TempDir()
	files := map[string]string{
		"go.mod":                   "module github.com/natsfn/natsfn\n\ngo 1.26\n",
		"functions/orders/doc.go":  "package orders\n",
		"functions/console/doc.go": "package console\n",
	}
	for p, content := range files {
		if err := os.MkdirAll(filepath.Join(root, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	before := treeOf(t, root)
	for _, c := range []struct {
		args []string
		why  string
	}{
		{[]string{"new", "-dir", root}, "needs a name"},
		{[]string{"new", "-dir", root, ""}, "needs a name"},
		{[]string{"new", "-dir", root, "orders"}, `"orders" is taken: functions/orders exists`},
		{[]string{"new", "-dir", root, "console"}, `"console" is taken`},
		{[]string{"new", "-dir", root, "Bad.Name"}, `"Bad.Name" is not a valid subject token: '.' separates subject tokens`},
		{[]string{"new", "-dir", root, "a b"}, `"a b" is not a valid subject token`},
		{[]string{"new", "-dir", root, "Greet"}, "use lowercase letters and digits"},
		{[]string{"new", "-dir", root, "runtime"}, "reserved"},
		{[]string{"new", "-dir", root, "greet", "extra"}, "one name"},
		{[]string{"new", "-dir", root, "-x", "greet"}, "flag provided but not defined: -x"},
	} {
		var stdout, stderr syncBuffer
		code := run(c.args, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), c.why) || stdout.String() != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want 2 saying %q", c.args[1:], code, stdout.String(), stderr.String(), c.why)
		}
	}
	if after := treeOf(t, root); !maps.Equal(after, before) {
		t.Errorf("the repository changed:\n%v\n%v", before, after)
	}
}

// TestNewHelp: -h says what the command writes and exits 0; outside a
// module, the command asks for -dir.
func TestNewHelp(t *testing.T) {
	var stdout, stderr syncBuffer
	if code := run([]string{"new", "-h"}, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "usage: natsfn new [-dir root] <name>") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	t.Chdir(t.TempDir())
	if code := run([]string{"new", "greet"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "no go.mod at or above") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

// treeOf maps every path under root to its content ("/" for a directory).
func treeOf(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			out[p] = "/"
			return err
		}
		b, err := os.ReadFile(p)
		out[p] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
