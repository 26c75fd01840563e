// Command certs writes the certificates of the compose stack over TLS into
// a directory (package certs says which): `make certs` runs
//
//	go run ./infra/certs/cmd/certs -dir bin/certs
//
// An existing set is kept unless -force is given.
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/natsfn/natsfn/infra/certs"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("certs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "bin/certs", "directory to write the certificates to")
	hosts := fs.String("hosts", strings.Join(certs.DefaultHosts, ","), "names and IP addresses of the server certificate, comma-separated")
	users := fs.String("users", strings.Join(certs.DefaultUsers, ","), "client certificates to make, one per NATS user, comma-separated")
	valid := fs.Duration("valid", 365*24*time.Hour, "validity of every certificate")
	force := fs.Bool("force", false, "replace the certificates in dir")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	set := certs.Set{Hosts: split(*hosts), Users: split(*users), Valid: *valid}
	if err := set.Validate(); err != nil {
		fmt.Fprintln(stderr, "certs:", err)
		return 2
	}
	if _, err := os.Stat(filepath.Join(*dir, "ca.pem")); err == nil && !*force {
		fmt.Fprintf(stdout, "certs: %s already holds a set (-force replaces it)\n", *dir)
		return 0
	}
	if err := set.Write(*dir); err != nil {
		fmt.Fprintln(stderr, "certs:", err)
		return 1
	}
	fmt.Fprintf(stdout, "certs: CA, server (%s) and clients (%s) written to %s\n",
		strings.Join(set.Hosts, ", "), strings.Join(set.Users, ", "), *dir)
	return 0
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
