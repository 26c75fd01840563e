package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// loadRun is one run of the load: what it offered, one sample per order
// (every one confirmed), and the CPU the process used meanwhile.
type loadRun struct {
	// Rate is the orders per second offered on a fixed schedule; 0 is
	// full speed, Callers placing orders back to back.
	Rate, Callers int
	// Duration is how long orders were placed.
	Duration time.Duration
	Samples  []orderSample
	// CPU is the process's CPU time from the first order sent to the last
	// confirmed (getrusage), and Split its parts by a CPU profile (nil
	// without one).
	CPU   time.Duration
	Split map[string]time.Duration
	// Profile is that CPU profile as pprof wrote it (gzipped), nil without
	// one: the report keeps it, for go tool pprof.
	Profile []byte
	// LoadAvg is the machine's load average when the run began.
	LoadAvg string
	// Steps is where the orders' time went, step by step (loadSteps).
	Steps []stepLatency
}

// name is the run's name in benchmark output and file names.
func (r loadRun) name() string {
	if r.Rate == 0 {
		return "rate=max"
	}
	return fmt.Sprintf("rate=%d", r.Rate)
}

// slug is name made safe for a file name.
func (r loadRun) slug() string { return strings.ReplaceAll(r.name(), "=", "-") }

// label is the run for a reader.
func (r loadRun) label() string {
	if r.Rate == 0 {
		return fmt.Sprintf("full speed (%d callers)", r.Callers)
	}
	return fmt.Sprintf("%d orders/s", r.Rate)
}

// elapsed is the time from the run's start to its last confirmation.
func (r loadRun) elapsed() time.Duration {
	var end time.Duration
	for _, s := range r.Samples {
		end = max(end, s.Confirmed)
	}
	return end
}

// sentPerSecond is the load the run offered, as it was achieved.
func (r loadRun) sentPerSecond() float64 {
	var last time.Duration
	for _, s := range r.Samples {
		last = max(last, s.Sent)
	}
	if last <= 0 {
		return 0
	}
	return float64(len(r.Samples)) / last.Seconds()
}

// confirmedPerSecond is the run's throughput: orders over elapsed.
func (r loadRun) confirmedPerSecond() float64 {
	if r.elapsed() <= 0 {
		return 0
	}
	return float64(len(r.Samples)) / r.elapsed().Seconds()
}

// maxLate is how far the load generator fell behind its schedule.
func (r loadRun) maxLate() time.Duration {
	var late time.Duration
	for _, s := range r.Samples {
		late = max(late, s.Late)
	}
	return late
}

// cpuPerOrder is the process's CPU time per order confirmed.
func (r loadRun) cpuPerOrder() time.Duration {
	if len(r.Samples) == 0 {
		return 0
	}
	return r.CPU / time.Duration(len(r.Samples))
}

// coresBusy is the CPU the run used as a number of cores kept busy.
func (r loadRun) coresBusy() float64 {
	if r.elapsed() <= 0 {
		return 0
	}
	return r.CPU.Seconds() / r.elapsed().Seconds()
}

// splitPerOrder is each part's CPU per order as the profile saw it, and
// the share of the profile's time it holds.
func (r loadRun) splitPerOrder(part string) (perOrder time.Duration, share float64) {
	var total time.Duration
	for _, d := range r.Split {
		total += d
	}
	if total == 0 || len(r.Samples) == 0 {
		return 0, 0
	}
	d := r.Split[part]
	return d / time.Duration(len(r.Samples)), float64(d) / float64(total)
}

// parseRates reads LOAD_RATES: orders per second, comma-separated, "max"
// for full speed.
func parseRates(s string) ([]int, error) {
	var rates []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "max" {
			rates = append(rates, 0)
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 || n > 1_000_000 {
			return nil, fmt.Errorf("LOAD_RATES: %q is neither orders per second (1 to 1000000) nor max", f)
		}
		rates = append(rates, n)
	}
	return rates, nil
}
