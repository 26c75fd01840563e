package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/functions/orders"
	"github.com/natsfn/natsfn/functions/payments"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// BenchmarkOrderFlow places orders on the whole flow (one process,
// embedded NATS, as `make run`) and reports the orders confirmed per
// second, the p50, p99 and p99.9 time from orders.create sent to
// orders.confirmed seen, and the process's CPU time per order: one run per
// offered rate. Every order must be confirmed, or the run fails. Run it
// with `make load`, which also writes the report.
//
// The environment sets it up:
//   - LOAD_RATES: orders per second to offer, one run each, "max" for full
//     speed (default "500,1000,max");
//   - LOAD_DURATION: how long each run places orders (default 20s);
//   - LOAD_REPORT: a directory to write the report into (plots, table,
//     samples); none when unset;
//   - LOAD_COMMAND: the command the report names (make load sets it);
//   - LOAD_CPU_SPLIT=0: no CPU profile, so no split of the CPU by part.
func BenchmarkOrderFlow(b *testing.B) {
	cfg, err := loadConfigFromEnv()
	if err != nil {
		b.Fatal(err)
	}
	rep := loadReport{
		Window: time.Second, Warmup: loadWarmup, Command: cfg.command,
		Args: strings.Join(os.Args[1:], " "), Machine: thisMachine(), Started: time.Now(),
	}
	for _, rate := range cfg.rates {
		var last *loadRun
		ok := b.Run(loadRun{Rate: rate}.name(), func(b *testing.B) {
			for range b.N {
				r := runLoad(b, rate, cfg.duration, cfg.split)
				s := summarize(r.Samples)
				b.ReportMetric(r.confirmedPerSecond(), "confirmed/s")
				b.ReportMetric(millis(s.P50), "p50-ms")
				b.ReportMetric(millis(s.P99), "p99-ms")
				b.ReportMetric(millis(s.P999), "p99.9-ms")
				b.ReportMetric(float64(r.cpuPerOrder().Microseconds()), "cpu-us/order")
				for _, st := range r.Steps {
					b.Logf("%-45s p50 %7.2f ms, p90 %7.2f ms, p99 %7.2f ms (%d orders)", st.Name, millis(st.P50), millis(st.P90), millis(st.P99), st.Orders)
				}
				last = &r
			}
		})
		if !ok || last == nil {
			continue
		}
		rep.Runs = append(rep.Runs, *last)
		rep.CPUSplit = rep.CPUSplit || last.Split != nil
	}
	if cfg.report == "" || b.Failed() || len(rep.Runs) == 0 {
		return
	}
	rep.LoadAvgEnd = loadAverage()
	if rep.Commit, rep.Dirty, err = gitCommit("."); err != nil {
		rep.Commit = unknown + " (" + err.Error() + ")"
	}
	if err := writeReport(cfg.report, rep); err != nil {
		b.Fatal(err)
	}
	b.Logf("load report: %s", cfg.report)
}

// loadConfig is BenchmarkOrderFlow's environment, read and checked.
type loadConfig struct {
	rates           []int
	duration        time.Duration
	report, command string
	split           bool
}

func loadConfigFromEnv() (loadConfig, error) {
	cfg := loadConfig{duration: 20 * time.Second, report: os.Getenv("LOAD_REPORT"), split: os.Getenv("LOAD_CPU_SPLIT") != "0"}
	if os.Getenv("LOAD_ORDERS") != "" {
		return cfg, errors.New("LOAD_ORDERS: a run is now as long as LOAD_DURATION (default 20s), at each of LOAD_RATES")
	}
	rates := os.Getenv("LOAD_RATES")
	if rates == "" {
		rates = "500,1000,max"
	}
	var err error
	if cfg.rates, err = parseRates(rates); err != nil {
		return cfg, err
	}
	if v := os.Getenv("LOAD_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > 10*time.Minute {
			return cfg, fmt.Errorf("LOAD_DURATION: %q is not a duration from 1ms to 10m", v)
		}
		cfg.duration = d
	}
	if cfg.command = os.Getenv("LOAD_COMMAND"); cfg.command == "" {
		cfg.command = "go test ./tests/e2e/ " + strings.Join(os.Args[1:], " ")
	}
	return cfg, nil
}

const (
	// loadSKUs is how many products the orders spread over.
	loadSKUs = 20
	// loadCallers place orders back to back in a full-speed run.
	loadCallers = 64
	// loadWarmup orders are placed and confirmed before a run, so that it
	// does not time the creation of the consumers' first batches.
	loadWarmup = 200
	// loadDrain is how long a run waits, once it stops placing, for the
	// last confirmation.
	loadDrain = 2 * time.Minute
)

// runLoad starts the flow on a fresh server, warms it up, then places
// orders for d: at rate per second on a fixed schedule, or with
// loadCallers back to back (rate 0). It waits until every order is
// confirmed, and fails the benchmark if one is not.
func runLoad(b *testing.B, rate int, d time.Duration, split bool) loadRun {
	f := startLoadFlow(b)
	f.stockLoadSKUs(1_000_000)
	run := loadRun{Rate: rate, Duration: d}
	if rate == 0 {
		run.Callers = loadCallers
	}
	inPart(partLoad, func() {
		if _, _, err := placeOrders(f, 16, 0, loadWarmup, time.Minute); err != nil {
			b.Fatalf("warm-up: %v", err)
		}
		var prof *cpuProfile
		if split {
			var err error
			if prof, err = startCPUProfile(); err != nil {
				b.Logf("no CPU split: %v", err)
			}
		}
		run.LoadAvg = loadAverage()
		cpu0, err := processCPU()
		if err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		samples, start, err := placeOrders(f, run.Callers, rate, int(float64(rate)*d.Seconds()), d)
		b.StopTimer()
		cpu1, _ := processCPU()
		run.CPU = cpu1 - cpu0
		if prof != nil {
			split, perr := prof.stop()
			if perr != nil {
				b.Logf("no CPU split: %v", perr)
			}
			run.Split, run.Profile = split, prof.buf.Bytes()
		}
		if err != nil {
			b.Fatal(err)
		}
		run.Samples = samples
		if run.Steps, err = measureSteps(context.Background(), f.js, start, samples); err != nil {
			b.Fatalf("steps: %v", err)
		}
	})
	return run
}

// startLoadFlow is startFlow with each part's goroutines labelled for the
// CPU profile: the server, the functions, and the client the load places
// orders with.
func startLoadFlow(b *testing.B) *flow {
	var srv *fntest.Server
	inPart(partServer, func() { srv = fntest.NewServer(b) })
	inPart(partFunctions, func() {
		// In process, as the all-in-one connects them; the load's client
		// stays on TCP, as callers outside the process are.
		cfg := srv.Config(b.Name())
		cfg.InProcessServer = srv.Server.Server
		fntest.RunConfig(b, cfg,
			orders.New(orders.Config{}),
			inventory.New(inventory.Config{}),
			payments.New(payments.Config{}),
		)
	})
	var f *flow
	inPart(partLoad, func() { f = connectFlow(b, srv) })
	return f
}
