package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/natsfn/natsfn/functions/scaffold"
)

// runNew is `natsfn new [-dir root] <name>`: it writes a new function into
// the repository (package scaffold) and says what it wrote and what to run
// next. A bad name exits 2 with nothing written, a failure 1.
func runNew(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("natsfn new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "the repository's root (default: the nearest directory at or above the working one with a go.mod)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: natsfn new [-dir root] <name>\n\n"+
			"Writes the function <name> into the natsfn repository: its package with one endpoint and one\n"+
			"event handler and their tests, functions/cmd/<name>, its contracts, its image, its compose\n"+
			"services and its NATS user; `make run` serves it at once.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(stderr, "natsfn new: one name, and flags before it (got %q)\n", fs.Args())
		return 2
	}
	root := *dir
	if root == "" {
		var err error
		if root, err = findRoot(); err != nil {
			fmt.Fprintln(stderr, "natsfn new:", err)
			return 2
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	name := fs.Arg(0)
	fmt.Fprintf(stderr, "natsfn new: writing %s into %s, then checking it (some seconds)\n", name, root)
	res, err := scaffold.New(ctx, scaffold.Config{Root: root, Name: name, Log: stderr})
	if errors.Is(err, scaffold.ErrName) {
		fmt.Fprintln(stderr, "natsfn new:", err, "\nnothing was written")
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "natsfn new:", err)
		return 1
	}
	report(stdout, name, res)
	return 0
}

// findRoot is the nearest directory at or above the working one that
// holds a go.mod.
func findRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no go.mod at or above %s: run it in the natsfn repository, or give -dir", wd)
		}
	}
}

// report says what was written and what to run next.
func report(w io.Writer, name string, res scaffold.Result) {
	fmt.Fprintf(w, "natsfn new %s: the function %s, with the endpoint %s.hello, the event handler %s-process\n"+
		"on orders.created, and its event %s.processed in the stream of its own.\n\ncreated:\n", name, name, name, name, name)
	for _, p := range res.Created {
		fmt.Fprintln(w, "  "+p)
	}
	fmt.Fprintln(w, "\nadded to:")
	for _, p := range res.Modified {
		fmt.Fprintln(w, "  "+p)
	}
	fmt.Fprintf(w, `
next:
  go test ./functions/%[1]s/...    its tests: the endpoint, the handler, and its NATS user's permissions
  make run                         serves %[1]s beside the order flow; in another terminal:
      nats micro info %[1]s
      nats req %[1]s.hello '{"name":"gopher"}'
  make images && make up           its image natsfn/%[1]s, and %[1]s-1, %[1]s-2 as the NATS user %[1]s

Its schemas are released as 1.0 (contracts/testdata/released.json): to reshape them before
anyone depends on them, delete their three lines there and run
  go test ./contracts -run TestCompatibilityGate -release
Over TLS (make up TLS=1) it needs a client certificate: rm -r bin/certs && make certs.
`, name)
}
