// Command natsfn runs the whole order flow in one process: an embedded
// nats-server with JetStream on disk, and the orders, inventory and payments
// functions on it (and every function `natsfn new` added: internal/all),
// with the demo catalog seeded, and the web console (functions/console) on
// the ops port at /console/. It is `make run`.
//
//	natsfn -port 4222 -data ./data -ops 127.0.0.1:8080   # console: http://127.0.0.1:8080/console/
//
// The other settings come from the same environment variables as every
// function (NATSFN_LOG_LEVEL, ...); NATS_URL is the embedded server's.
//
// `natsfn new <name>` writes a new function into this repository (package
// functions/scaffold says what), which `make run` then serves beside the
// others:
//
//	go run ./functions/cmd/natsfn new greet
//
// `natsfn console` serves the web console alone, for any NATS: it reads
// NATS_URL, NATS_USER, NATS_PASSWORD, NATS_TOKEN, NATS_CREDS,
// NATS_NKEY_SEED, NATS_TLS_CERT, NATS_TLS_KEY, NATS_TLS_CA,
// NATSFN_CONSOLE_ADDR (default :8090) and NATSFN_CONSOLE_TIMEOUT (5s).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/natsfn/natsfn/functions/cmd/natsfn/internal/all"
	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/embedded"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// options are the all-in-one's flags.
type options struct {
	host, data, ops string
	console         string
	port            int
	serverLogs      bool
}

func parse(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("natsfn", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.host, "host", "127.0.0.1", "address the embedded NATS server listens on")
	fs.IntVar(&o.port, "port", 4222, "port the embedded NATS server listens on")
	fs.StringVar(&o.data, "data", "./data", "directory for JetStream's files")
	fs.StringVar(&o.ops, "ops", "127.0.0.1:8080", "ops HTTP address (/healthz, /readyz, /metrics); \"off\" disables it")
	fs.StringVar(&o.console, "console", "ops", "web console: \"ops\" serves it on the ops port at /console/, an address on its own port, \"off\" none")
	fs.BoolVar(&o.serverLogs, "server-logs", false, "print the NATS server's own log")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.port < 0 || o.port > 65535 {
		return o, fmt.Errorf("-port %d is not a port", o.port)
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "healthcheck" {
		return runtime.Healthcheck(os.Getenv("NATSFN_OPS_ADDR"), args[1:]...)
	}
	if len(args) > 0 && args[0] == "console" {
		return runConsole(args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "new" {
		return runNew(args[1:], stdout, stderr)
	}
	o, err := parse(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "natsfn:", err)
		return 2
	}
	cfg, err := runtime.LoadConfig()
	if err != nil {
		fmt.Fprintln(stderr, "natsfn:", err)
		return 2
	}
	srv, err := embedded.Start(embedded.Config{Host: o.host, Port: o.port, StoreDir: o.data, Logs: o.serverLogs})
	if err != nil {
		fmt.Fprintln(stderr, "natsfn:", err)
		return 1
	}
	defer srv.Stop()
	cfg.NATSURL = srv.ClientURL()
	cfg.InProcessServer = srv.Server // the functions' connections skip TCP; the CLI and the console use the port
	cfg.OpsAddr = o.ops
	cfg.User, cfg.Password, cfg.Token, cfg.CredsFile, cfg.NKeySeedFile = "", "", "", "", ""

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	consoleURL, stopConsole, err := startConsole(ctx, o.console, srv.ClientURL(), &cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "natsfn: -console:", err)
		return 1
	}
	defer stopConsole() // before the server stops: defers run last in, first out
	svcs := all.Services()
	inst, err := runtime.Start(ctx, cfg, svcs...)
	if err != nil {
		fmt.Fprintln(stderr, "natsfn:", err)
		return 1
	}
	banner(stdout, names(svcs), srv.ClientURL(), o.ops, consoleURL)
	<-ctx.Done()
	if err := inst.Stop(); err != nil {
		fmt.Fprintln(stderr, "natsfn:", err)
		return 1
	}
	return 0
}

// names lists the services' names for the banner: "a, b and c".
func names(svcs []*runtime.Service) string {
	var n []string
	for _, s := range svcs {
		n = append(n, s.Name())
	}
	if len(n) < 2 {
		return strings.Join(n, "")
	}
	return strings.Join(n[:len(n)-1], ", ") + " and " + n[len(n)-1]
}

// banner tells the user how to place an order.
func banner(w io.Writer, functions, url, ops, consoleURL string) {
	if consoleURL != "" {
		consoleURL = "\n  console: " + consoleURL + "  (watch an order go through the saga)"
	}
	fmt.Fprintf(w, `
natsfn is up: %s on an embedded NATS at %s
  ops: http://%s/metrics  /healthz  /readyz%s

Try it with the nats CLI (make tools puts it in ./bin):
  export NATS_URL=%s PATH=$PWD/bin:$PATH
  nats micro ls
  nats req orders.create '{"customer_id":"c-1","items":[{"product_id":"sku-1","quantity":2}]}'
  nats req orders.get '{"order_id":"<order_id from the reply>"}'

Ctrl-C stops it; the data stays in the -data directory.
`, functions, url, ops, consoleURL, url)
}
