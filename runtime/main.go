package runtime

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/natsfn/natsfn/runtime/internal/ops"
)

// Main is a function binary's whole main: `healthcheck` as the first
// argument probes the ops port and exits; otherwise it reads the config from
// the environment, runs the services until SIGINT or SIGTERM, and exits 0
// after a clean shutdown, 2 naming a bad variable, or 1 with the reason.
func Main(services ...*Service) {
	os.Exit(mainCode(os.Args[1:], services...))
}

func mainCode(args []string, services ...*Service) int {
	if len(args) > 0 && args[0] == "healthcheck" {
		return Healthcheck(os.Getenv("NATSFN_OPS_ADDR"), args[1:]...)
	}
	cfg, err := LoadConfig()
	if err != nil {
		fmt.Fprintln(os.Stderr, "natsfn:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := Run(ctx, cfg, services...); err != nil {
		fmt.Fprintln(os.Stderr, "natsfn:", err)
		return 1
	}
	return 0
}

// Healthcheck is the `healthcheck` argument of every binary: args empty
// probes /healthz (alive), args ["ready"] probes /readyz (connected and
// serving) of the ops port at addr. It returns the exit code: 0 when the
// probe answers 200, else 1. Scratch images have no shell or curl, so each
// binary does this itself for Docker's HEALTHCHECK.
func Healthcheck(addr string, args ...string) int {
	path := "/healthz"
	if len(args) > 0 {
		if args[0] != "ready" {
			fmt.Printf("healthcheck: %q is not \"ready\" or nothing\n", args[0])
			return 1
		}
		path = "/readyz"
	}
	return ops.Probe(addr, path)
}
