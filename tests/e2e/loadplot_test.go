package e2e

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"testing"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// The plots of a load report, drawn with gonum.org/v1/plot as SVG: text
// that a browser and GitHub's README render, and that diffs.
const (
	plotWidth  = 18 * vg.Centimeter
	plotHeight = 10 * vg.Centimeter
)

// series is one line of a plot.
type series struct {
	name   string
	xys    plotter.XYs
	dashed bool
	color  int // plotutil.Color index
}

// linePlot draws series on one set of axes.
func linePlot(title, xLabel, yLabel string, lines []series) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Y.Min = 0
	p.Y.Tick.Marker = plainTicks{}
	p.Add(plotter.NewGrid())
	p.Legend.Top = true
	for _, s := range lines {
		if len(s.xys) == 0 {
			continue
		}
		l, err := plotter.NewLine(s.xys)
		if err != nil {
			return nil, fmt.Errorf("plot %q, line %q: %w", title, s.name, err)
		}
		l.Color = plotutil.Color(s.color)
		l.Width = vg.Points(1.5)
		if s.dashed {
			l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		}
		p.Add(l)
		p.Legend.Add(s.name, l)
	}
	// Headroom for the legend, which sits at the top right.
	p.Y.Max *= 1.35
	return p, nil
}

// plainTicks are gonum's default ticks labelled without padded decimals
// ("2500", not "2500.00").
type plainTicks struct{}

func (plainTicks) Ticks(lo, hi float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(lo, hi)
	for i, t := range ticks {
		if t.Label != "" {
			ticks[i].Label = strconv.FormatFloat(t.Value, 'f', -1, 64)
		}
	}
	return ticks
}

// throughputPlot draws each run's orders confirmed per second, window by
// window, and dashed, the orders it sent.
func throughputPlot(runs []loadRun, width time.Duration) (*plot.Plot, error) {
	var lines []series
	for i, r := range runs {
		confirmed, sent := throughputXYs(r.Samples, width)
		lines = append(lines,
			series{name: r.label() + ": confirmed", xys: confirmed, color: i},
			series{name: r.label() + ": sent", xys: sent, color: i, dashed: true})
	}
	return linePlot(fmt.Sprintf("Orders per second (%s windows)", width), "seconds since the run began", "orders/s", lines)
}

// throughputXYs are the points of a run's throughput plot, one per window
// at its middle: orders confirmed per second, and orders sent per second
// up to the last window that sent any.
func throughputXYs(samples []orderSample, width time.Duration) (confirmed, sent plotter.XYs) {
	ws := windows(samples, width)
	lastSent := 0
	for i, w := range ws {
		if w.Sent > 0 {
			lastSent = i
		}
	}
	for i, w := range ws {
		x := (w.Start + w.Width/2).Seconds()
		confirmed = append(confirmed, plotter.XY{X: x, Y: w.confirmedPerSecond()})
		if i <= lastSent {
			sent = append(sent, plotter.XY{X: x, Y: w.sentPerSecond()})
		}
	}
	return confirmed, sent
}

// distributionPlot draws each run's latency against its percentile, on
// log scales so that p50 and p99.9 both show.
func distributionPlot(runs []loadRun) (*plot.Plot, error) {
	var lines []series
	top, least := 0.0, math.Inf(1)
	for i, r := range runs {
		var xys plotter.XYs
		for _, pt := range spectrum(r.Samples) {
			// A log scale panics at 0; a microsecond is below any order.
			y := max(millis(pt.Latency), 0.001)
			xys = append(xys, plotter.XY{X: pt.Nines, Y: y})
			top, least = max(top, pt.Nines), min(least, y)
		}
		lines = append(lines, series{name: r.label(), xys: xys, color: i})
	}
	p, err := linePlot("Latency distribution: orders.create sent to orders.confirmed seen", "percentile", "latency (ms, log scale)", lines)
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 || math.IsInf(least, 1) {
		return nil, fmt.Errorf("latency distribution: no orders")
	}
	p.Y.Min = least // linePlot's 0 has no place on a log scale
	p.Y.Max *= 3    // more headroom: a log scale squeezes it
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	var ticks plot.ConstantTicks
	ticks = append(ticks, plot.Tick{Value: math.Log10(2), Label: "p50"})
	for n, label := range []string{"p90", "p99", "p99.9", "p99.99", "p99.999"} {
		if float64(n+1) <= top+1e-9 {
			ticks = append(ticks, plot.Tick{Value: float64(n + 1), Label: label})
		}
	}
	p.X.Tick.Marker = ticks
	p.X.Min, p.X.Max = 0, top
	return p, nil
}

// overTimePlot draws a run's p50, p99 and p99.9 window by window.
func overTimePlot(r loadRun, width time.Duration) (*plot.Plot, error) {
	var p50, p99, p999 plotter.XYs
	for _, w := range windows(r.Samples, width) {
		if w.Confirmed == 0 {
			continue
		}
		x := (w.Start + w.Width/2).Seconds()
		p50 = append(p50, plotter.XY{X: x, Y: millis(w.Latency.P50)})
		p99 = append(p99, plotter.XY{X: x, Y: millis(w.Latency.P99)})
		p999 = append(p999, plotter.XY{X: x, Y: millis(w.Latency.P999)})
	}
	return linePlot(fmt.Sprintf("Latency over time, %s (%s windows, by time confirmed)", r.label(), width),
		"seconds since the run began", "latency (ms)",
		[]series{{name: "p50", xys: p50, color: 0}, {name: "p99", xys: p99, color: 1}, {name: "p99.9", xys: p999, color: 2}})
}

// writeSVG renders p as SVG to w.
func writeSVG(w io.Writer, p *plot.Plot) error {
	wt, err := p.WriterTo(plotWidth, plotHeight, "svg")
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func TestThroughputXYs(t *testing.T) {
	// 20 orders sent in the first second, confirmed 10 a second over the
	// next two.
	var samples []orderSample
	for i := range 20 {
		samples = append(samples, orderSample{Sent: time.Duration(i) * 50 * time.Millisecond, Confirmed: time.Second + time.Duration(i)*100*time.Millisecond})
	}
	confirmed, sent := throughputXYs(samples, time.Second)
	want := plotter.XYs{{X: 0.5, Y: 0}, {X: 1.5, Y: 10}, {X: 2.45, Y: 10 / 0.9}}
	if len(confirmed) != len(want) {
		t.Fatalf("confirmed %v, want %v", confirmed, want)
	}
	for i := range want {
		if math.Abs(confirmed[i].X-want[i].X) > 1e-9 || math.Abs(confirmed[i].Y-want[i].Y) > 1e-9 {
			t.Errorf("confirmed[%d] = %v, want %v", i, confirmed[i], want[i])
		}
	}
	if len(sent) != 1 || sent[0] != (plotter.XY{X: 0.5, Y: 20}) {
		t.Errorf("sent %v, want one point, 20/s in the first second", sent)
	}
}
