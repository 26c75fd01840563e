package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeepsASetUnlessForced(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	var out, errs bytes.Buffer
	if code := run([]string{"-dir", dir}, &out, &errs); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	first, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if code := run([]string{"-dir", dir}, &out, &errs); code != 0 || !strings.Contains(out.String(), "already holds") {
		t.Fatalf("second run: exit %d, %q", code, out.String())
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "ca.pem")); !bytes.Equal(again, first) {
		t.Fatal("the set was replaced without -force")
	}
	if code := run([]string{"-dir", dir, "-force"}, &out, &errs); code != 0 {
		t.Fatalf("-force: exit %d: %s", code, errs.String())
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "ca.pem")); bytes.Equal(again, first) {
		t.Fatal("-force kept the old CA")
	}
}

func TestBadFlags(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	for _, args := range [][]string{{"-hosts", ""}, {"-valid", "1m"}, {"-users", "a/b"}, {"-nope"}} {
		var out, errs bytes.Buffer
		if code := run(append(args, "-dir", dir), &out, &errs); code != 2 || errs.Len() == 0 {
			t.Errorf("%q: exit %d, stderr %q", args, code, errs.String())
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("bad flags wrote %s", dir)
	}
}
