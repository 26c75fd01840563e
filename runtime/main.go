package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/natsfn/natsfn/runtime/internal/ops"
)

// Main is a function binary's whole main: `healthcheck` as the first
// argument probes the ops port and exits; otherwise it reads the config from
// the environment, runs the services until SIGINT or SIGTERM, and exits 0
// after a clean shutdown (also one asked for while starting), 2 naming a
// bad variable, or 1 with the reason.
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
	release := holdGC()
	i, err := Start(ctx, cfg, services...)
	release()
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		// SIGTERM while starting (a rolling update that moved on, a
		// scale-down): Start has stopped what it began, as asked.
		fmt.Fprintln(os.Stderr, "natsfn: stopped while starting")
		return 0
	}
	if err == nil {
		<-ctx.Done()
		err = i.Stop()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "natsfn:", err)
		return 1
	}
	return 0
}

// startGCPercent is the GC's target while a binary starts (GOGC=400).
const startGCPercent = 400

// holdGC lets the heap grow to five times its live size (GOGC=400) until
// release is called, unless the operator set GOGC. A start allocates
// little that lives, but the live heap is small then, so the collector
// ran during every start: about 2 ms of an orders instance's 17-19 ms to
// its first PING on a local server (GOGC=400 or off: 15-17 ms). In
// containers on a noisy machine, four runs in turns did not separate it
// from the noise (README, "Performance"). GOMEMLIMIT still bounds the heap.
func holdGC() (release func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	was := debug.SetGCPercent(startGCPercent)
	return func() { debug.SetGCPercent(was) }
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
