package e2e

import (
	"bytes"
	"encoding/csv"
	"encoding/xml"
	"html"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// syntheticRuns are two runs made up to be checked against: 1,000
// orders/s for 3 s, of which 2,970 take 2 ms, 29 take 8 ms and one 30 ms,
// profiled; and a full-speed run whose latency grows, not profiled.
func syntheticRuns() []loadRun {
	fixed := loadRun{Rate: 1000, Duration: 3 * time.Second, CPU: 750 * time.Millisecond,
		Split:   map[string]time.Duration{partServer: 400 * time.Millisecond, partFunctions: 250 * time.Millisecond, partLoad: 50 * time.Millisecond, partOther: 50 * time.Millisecond},
		Profile: []byte("\x1f\x8b a profile"),
		LoadAvg: "1.50 1.20 1.00"}
	for i, st := range loadSteps {
		d := time.Duration(i+1) * time.Millisecond
		fixed.Steps = append(fixed.Steps, stepLatency{loadStep: st, Orders: 3000, P50: d, P90: 2 * d, P99: 3 * d})
	}
	for i := range 3000 {
		l := ms(2)
		switch {
		case i == 1500:
			l = ms(30)
		case i%100 == 99 && i < 2900:
			l = ms(8)
		}
		sent := time.Duration(i) * time.Millisecond
		fixed.Samples = append(fixed.Samples, orderSample{Sent: sent, Late: time.Duration(i%7) * time.Microsecond, Confirmed: sent + l})
	}
	full := loadRun{Callers: 64, Duration: 2 * time.Second, CPU: 2 * time.Second, LoadAvg: "2.00 1.30 1.00"}
	for i := range 4000 {
		sent := time.Duration(i) * 500 * time.Microsecond
		full.Samples = append(full.Samples, orderSample{Sent: sent, Confirmed: sent + ms(5+float64(i)/40)})
	}
	return []loadRun{fixed, full}
}

func syntheticReport() loadReport {
	return loadReport{
		Runs: syntheticRuns(), Window: time.Second, Warmup: 200,
		Command: "make load LOAD_REPORT='a b'", Args: "-test.run=^$ -test.bench=BenchmarkOrderFlow",
		Commit: "0123456789abcdef0123456789abcdef01234567", Dirty: true,
		Machine: thisMachine(), Started: time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC),
		LoadAvgEnd: "1.90 1.40 1.10", CPUSplit: true,
	}
}

// TestLoadReport writes a report of made-up runs and reads it back: every
// plot an SVG document with its title, every run's samples, and a page
// that names the commit, the command, the rates and the figures.
func TestLoadReport(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "report")
	rep := syntheticReport()
	if err := writeReport(dir, rep); err != nil {
		t.Fatal(err)
	}

	plots := map[string]string{
		reportThroughput:                  "Orders per second",
		reportDistribution:                "Latency distribution",
		"latency-over-time-rate-1000.svg": "Latency over time, 1000 orders/s",
		"latency-over-time-rate-max.svg":  "Latency over time, full speed (64 callers)",
	}
	for file, title := range plots {
		checkSVG(t, filepath.Join(dir, file), title)
	}
	checkSamples(t, filepath.Join(dir, "samples-rate-1000.csv"), rep.Runs[0].Samples)
	checkSamples(t, filepath.Join(dir, "samples-rate-max.csv"), rep.Runs[1].Samples)
	if b, err := os.ReadFile(filepath.Join(dir, "cpu-rate-1000.pprof")); err != nil || !bytes.Equal(b, rep.Runs[0].Profile) {
		t.Errorf("cpu-rate-1000.pprof: %q, %v; want the run's profile", b, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cpu-rate-max.pprof")); err == nil {
		t.Error("cpu-rate-max.pprof written for a run that was not profiled")
	}

	page, err := os.ReadFile(filepath.Join(dir, reportIndex))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		rep.Commit, "(dirty)", html.EscapeString(rep.Command), html.EscapeString(rep.Args),
		"<td>1000 orders/s</td>", "<td>full speed (64 callers)</td>", "<td>3000</td>", "<td>4000</td>",
		"<td><b>1000</b></td>", // confirmed/s: 3,000 orders in 3.001 s
		"<td>2.00 ms</td><td><b>2.00 ms</b></td><td>8.00 ms</td><td>30.00 ms</td>", // p50, p99, p99.9, max
		"<td><b>250 µs</b></td><td>0.25</td>",                                      // 750 ms of CPU: over 3,000 orders, over 3.001 s
		"<td>133 µs (53%)</td>",                                                    // the server: 400 of 750 ms profiled
		"<td>n/a</td>",                                                             // the full-speed run was not profiled
		"1.50 1.20 1.00", "1.90 1.40 1.10", rep.Machine.Go, "2026-11-27 10:00:00 UTC",
		`<a href="cpu-rate-1000.pprof">`,
		// The reservation's row: the fixed run's steps, none for the other.
		"<tr><td>orders.created → inventory.reserved</td><td>" + html.EscapeString(loadSteps[1].Who) +
			`</td><td>2.00 ms</td><td>4.00 ms</td><td>6.00 ms</td><td colspan="3">n/a</td></tr>`,
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	for _, m := range regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(string(page), -1) {
		if _, err := os.Stat(filepath.Join(dir, m[1])); err != nil {
			t.Errorf("index.html links %s: %v", m[1], err)
		}
	}
	files, _ := os.ReadDir(dir)
	if len(files) != len(plots)+4 {
		t.Errorf("report holds %d files, want %d plots, 2 CSVs, a profile and index.html: %v", len(files), len(plots), files)
	}
}

// checkSVG decodes the whole file as XML and finds an svg root and title.
func checkSVG(t *testing.T, path, title string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := xml.NewDecoder(bytes.NewReader(b))
	var root string
	var text strings.Builder
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s is not XML: %v", filepath.Base(path), err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = tok.Name.Local
			}
		case xml.CharData:
			text.Write(tok)
		}
	}
	if root != "svg" {
		t.Errorf("%s: root element %q, want svg", filepath.Base(path), root)
	}
	if !strings.Contains(text.String(), title) {
		t.Errorf("%s: no text %q", filepath.Base(path), title)
	}
}

// checkSamples reads a run's CSV back.
func checkSamples(t *testing.T, path string, want []orderSample) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(want)+1 || strings.Join(recs[0], ",") != "sent_us,late_us,confirmed_us,latency_us" {
		t.Fatalf("%s: %d records, header %v; want %d and the header", filepath.Base(path), len(recs), recs[0], len(want)+1)
	}
	for i, s := range want {
		got := strings.Join(recs[i+1], ",")
		if w := us(s.Sent) + "," + us(s.Late) + "," + us(s.Confirmed) + "," + us(s.latency()); got != w {
			t.Fatalf("%s line %d: %s, want %s", filepath.Base(path), i+2, got, w)
		}
	}
}

func TestLoadReportNoRuns(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "report")
	rep := syntheticReport()
	rep.Runs = nil
	if err := writeReport(dir, rep); err == nil {
		t.Fatal("a report of no runs was written")
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a report of no runs left %s behind: %v", dir, err)
	}
}

func TestParseRates(t *testing.T) {
	got, err := parseRates("500, 1000,max")
	if err != nil || len(got) != 3 || got[0] != 500 || got[1] != 1000 || got[2] != 0 {
		t.Fatalf("parseRates = %v, %v; want [500 1000 0]", got, err)
	}
	for _, bad := range []string{"", "500,", "fast", "-5", "0", "1e3"} {
		if _, err := parseRates(bad); err == nil || !strings.Contains(err.Error(), "LOAD_RATES") {
			t.Errorf("parseRates(%q) = %v, want an error naming LOAD_RATES", bad, err)
		}
	}
}

func TestLoadConfigFromEnv(t *testing.T) {
	for _, k := range []string{"LOAD_RATES", "LOAD_DURATION", "LOAD_REPORT", "LOAD_COMMAND", "LOAD_CPU_SPLIT", "LOAD_ORDERS"} {
		t.Setenv(k, "")
	}
	cfg, err := loadConfigFromEnv()
	if err != nil || len(cfg.rates) != 3 || cfg.rates[1] != 1000 || cfg.rates[2] != 0 || cfg.duration != 20*time.Second || !cfg.split || cfg.report != "" {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
	if !strings.HasPrefix(cfg.command, "go test ./tests/e2e/ ") {
		t.Errorf("command without LOAD_COMMAND: %q", cfg.command)
	}
	t.Setenv("LOAD_COMMAND", "make load")
	t.Setenv("LOAD_DURATION", "5s")
	t.Setenv("LOAD_CPU_SPLIT", "0")
	if cfg, err = loadConfigFromEnv(); err != nil || cfg.command != "make load" || cfg.duration != 5*time.Second || cfg.split {
		t.Fatalf("set: %+v, %v", cfg, err)
	}
	for _, bad := range []struct{ key, value, want string }{
		{"LOAD_DURATION", "soon", "LOAD_DURATION"},
		{"LOAD_DURATION", "-1s", "LOAD_DURATION"},
		{"LOAD_DURATION", "11m", "LOAD_DURATION"},
		{"LOAD_RATES", "500,fast", "LOAD_RATES"},
		{"LOAD_ORDERS", "3000", "LOAD_DURATION"},
	} {
		t.Run(bad.key+"="+bad.value, func(t *testing.T) {
			t.Setenv(bad.key, bad.value)
			if _, err := loadConfigFromEnv(); err == nil || !strings.Contains(err.Error(), bad.want) {
				t.Fatalf("error %v, want one naming %s", err, bad.want)
			}
		})
	}
}
