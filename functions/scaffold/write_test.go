package scaffold

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestApplyAndRollback: apply writes new files (and their directories) and
// changed ones; rollback leaves the tree as it was. A new file that exists
// already stops apply, which undoes what it had written.
func TestApplyAndRollback(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "reg.txt"), []byte("a\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "there.txt"), []byte("mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, root)
	changes := []change{
		{path: "fn/sub/new.go", data: []byte("package sub\n")},
		{path: "reg.txt", data: []byte("a\nb\n"), old: []byte("a\n")},
	}
	w, err := apply(root, changes)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "fn/sub/new.go")); string(b) != "package sub\n" {
		t.Fatalf("new file: %q", b)
	}
	info, err := os.Stat(filepath.Join(root, "reg.txt"))
	if b, _ := os.ReadFile(filepath.Join(root, "reg.txt")); err != nil || string(b) != "a\nb\n" || info.Mode().Perm() != 0o600 {
		t.Fatalf("changed file: %q, %v (%v)", b, info.Mode(), err)
	}
	if err := w.rollback(); err != nil {
		t.Fatal(err)
	}
	sameTree(t, root, before)

	_, err = apply(root, append(changes, change{path: "there.txt", data: []byte("theirs\n")}))
	if err == nil || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("apply over an existing file: %v", err)
	}
	sameTree(t, root, before)
}
