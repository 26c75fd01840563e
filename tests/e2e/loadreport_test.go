package e2e

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"gonum.org/v1/plot"
)

// loadReport is what `make load` leaves behind: its runs, and what it ran
// on and from.
type loadReport struct {
	Runs []loadRun
	// Window is the width of the plots' time windows, Warmup the orders
	// placed and confirmed before each run, unmeasured.
	Window time.Duration
	Warmup int
	// Command is the command as typed (make load ...), Args the test
	// binary's arguments.
	Command, Args string
	Commit        string
	Dirty         bool
	Machine       machine
	Started       time.Time
	// LoadAvgEnd is the machine's load average when the last run ended.
	LoadAvgEnd string
	// CPUSplit says whether the runs were profiled to split their CPU.
	CPUSplit bool
}

// The report's files, in its directory; per run, the over-time plot and
// the samples are named after the run's slug.
const (
	reportIndex        = "index.html"
	reportThroughput   = "throughput.svg"
	reportDistribution = "latency-distribution.svg"
)

func overTimeFile(r loadRun) string { return "latency-over-time-" + r.slug() + ".svg" }
func samplesFile(r loadRun) string  { return "samples-" + r.slug() + ".csv" }

// profileFile is where a profiled run's CPU profile goes.
func profileFile(r loadRun) string { return "cpu-" + r.slug() + ".pprof" }

// writeReport writes the report into dir: the plots, each run's samples as
// CSV, and index.html, which shows them all. Each file is written whole or
// not at all, and index.html last.
func writeReport(dir string, rep loadReport) error {
	if len(rep.Runs) == 0 {
		return fmt.Errorf("load report: no runs")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("load report: %w", err)
	}
	type reportPlot struct {
		file string
		draw func() (*plot.Plot, error)
	}
	plots := []reportPlot{
		{reportThroughput, func() (*plot.Plot, error) { return throughputPlot(rep.Runs, rep.Window) }},
		{reportDistribution, func() (*plot.Plot, error) { return distributionPlot(rep.Runs) }},
	}
	for _, r := range rep.Runs {
		plots = append(plots, reportPlot{overTimeFile(r), func() (*plot.Plot, error) { return overTimePlot(r, rep.Window) }})
	}
	for _, pl := range plots {
		p, err := pl.draw()
		if err != nil {
			return fmt.Errorf("load report: %s: %w", pl.file, err)
		}
		if err := writeFileAtomic(filepath.Join(dir, pl.file), func(w io.Writer) error { return writeSVG(w, p) }); err != nil {
			return err
		}
	}
	for _, r := range rep.Runs {
		if err := writeFileAtomic(filepath.Join(dir, samplesFile(r)), func(w io.Writer) error { return writeSamples(w, r.Samples) }); err != nil {
			return err
		}
		if r.Profile != nil {
			if err := writeFileAtomic(filepath.Join(dir, profileFile(r)), func(w io.Writer) error {
				_, err := w.Write(r.Profile)
				return err
			}); err != nil {
				return err
			}
		}
	}
	return writeFileAtomic(filepath.Join(dir, reportIndex), func(w io.Writer) error { return reportPage.Execute(w, rep) })
}

// writeSamples writes one line per order, times in microseconds since the
// run began.
func writeSamples(w io.Writer, samples []orderSample) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"sent_us", "late_us", "confirmed_us", "latency_us"})
	for _, s := range samples {
		_ = cw.Write([]string{us(s.Sent), us(s.Late), us(s.Confirmed), us(s.latency())})
	}
	cw.Flush()
	return cw.Error()
}

func us(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) }

// writeFileAtomic writes a file through a temporary one in the same
// directory, so that a failure leaves the old file, not half a new one.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return fmt.Errorf("load report: %s: %w", filepath.Base(path), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("load report: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("load report: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("load report: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("load report: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("load report: %w", err)
	}
	return nil
}

// reportRow is a run as the page's table shows it.
type reportRow struct {
	Label, Slug, LoadAvg       string
	Orders                     int
	Duration, Late, CPU        time.Duration
	Sent, Confirmed, CoresBusy float64
	Latency                    latencySummary
	Parts                      []reportPart
	OverTimeFile, SamplesFile  string
	ProfileFile                string // "" when the run was not profiled
	Steps                      []stepLatency
}

// reportPart is a part's CPU per order and share of the profile; Known is
// false for a run that was not profiled.
type reportPart struct {
	Name     string
	Known    bool
	PerOrder time.Duration
	Share    float64
}

// rows lays the runs out for the page.
func (rep loadReport) Rows() []reportRow {
	var rows []reportRow
	for _, r := range rep.Runs {
		row := reportRow{
			Label: r.label(), Slug: r.slug(), LoadAvg: r.LoadAvg, Orders: len(r.Samples),
			Duration: r.Duration, Late: r.maxLate(), CPU: r.cpuPerOrder(),
			Sent: r.sentPerSecond(), Confirmed: r.confirmedPerSecond(), CoresBusy: r.coresBusy(),
			Latency: summarize(r.Samples), OverTimeFile: overTimeFile(r), SamplesFile: samplesFile(r),
			Steps: r.Steps,
		}
		if r.Profile != nil {
			row.ProfileFile = profileFile(r)
		}
		if rep.CPUSplit {
			for _, p := range parts {
				d, share := r.splitPerOrder(p)
				row.Parts = append(row.Parts, reportPart{Name: p, Known: r.Split != nil, PerOrder: d, Share: share})
			}
		}
		rows = append(rows, row)
	}
	return rows
}

var reportPage = template.Must(template.New(reportIndex).Funcs(template.FuncMap{
	"ms":    func(d time.Duration) string { return strconv.FormatFloat(millis(d), 'f', 2, 64) },
	"us":    func(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) },
	"num":   func(f float64) string { return strconv.FormatFloat(f, 'f', 0, 64) },
	"dec":   func(f float64) string { return strconv.FormatFloat(f, 'f', 2, 64) },
	"pct":   func(f float64) string { return strconv.FormatFloat(100*f, 'f', 0, 64) + "%" },
	"parts": func() []string { return parts },
	"short": func(s string) string { return s[:min(len(s), 12)] },
	"utc":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"steps": func() []loadStep { return loadSteps },
	// step is a row's i-th step, nil when its steps were not measured.
	"step": func(row reportRow, i int) *stepLatency {
		if i >= len(row.Steps) {
			return nil
		}
		return &row.Steps[i]
	},
}).Parse(reportHTML))
