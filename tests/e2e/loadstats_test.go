package e2e

import (
	"math"
	"slices"
	"testing"
	"time"
)

// orderSample is one order of a load run, its times counted from the
// run's start: when orders.create was sent, how late that was against the
// run's schedule (0 at full speed), and when orders.confirmed was seen.
type orderSample struct {
	ID                    string
	Sent, Late, Confirmed time.Duration
}

// latency is what the load measures: orders.create sent to
// orders.confirmed seen.
func (s orderSample) latency() time.Duration { return s.Confirmed - s.Sent }

// latencySummary is a run's latency in one line.
type latencySummary struct {
	P50, P99, P999, Max time.Duration
}

// summarize returns the percentiles of the samples' latencies.
func summarize(samples []orderSample) latencySummary {
	l := sortedLatencies(samples)
	return latencySummary{P50: percentile(l, 0.50), P99: percentile(l, 0.99), P999: percentile(l, 0.999), Max: percentile(l, 1)}
}

func sortedLatencies(samples []orderSample) []time.Duration {
	l := make([]time.Duration, len(samples))
	for i, s := range samples {
		l[i] = s.latency()
	}
	slices.Sort(l)
	return l
}

// percentile is the nearest-rank q-quantile of sorted: the smallest value
// at least a fraction q of the values do not exceed (0 of no values).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	// The epsilon keeps 0.99*100 = 99.00000000000001 at rank 99.
	rank := int(math.Ceil(q*float64(len(sorted)) - 1e-9))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// window is a slice of a run's time: the orders sent in it and those
// confirmed in it, and the latency percentiles of the latter.
type window struct {
	Start, Width    time.Duration
	Sent, Confirmed int
	Latency         latencySummary
}

// confirmedPerSecond is the window's throughput.
func (w window) confirmedPerSecond() float64 { return float64(w.Confirmed) / w.Width.Seconds() }

// sentPerSecond is the load offered in the window.
func (w window) sentPerSecond() float64 { return float64(w.Sent) / w.Width.Seconds() }

// windows cuts a run into windows of width by the time each order was
// confirmed (and, for Sent, sent), from 0 to the last confirmation. A
// remainder shorter than half a width joins the window before it, so the
// last point of a throughput plot is not a rate over a few milliseconds.
func windows(samples []orderSample, width time.Duration) []window {
	if len(samples) == 0 || width <= 0 {
		return nil
	}
	var end time.Duration
	for _, s := range samples {
		end = max(end, s.Confirmed, s.Sent)
	}
	n := max(int(end/width), 1)
	if rest := end - time.Duration(n)*width; rest >= width/2 {
		n++
	}
	ws := make([]window, n)
	lat := make([][]time.Duration, n)
	slot := func(t time.Duration) int { return min(int(t/width), n-1) }
	for i := range ws {
		ws[i].Start, ws[i].Width = time.Duration(i)*width, width
	}
	ws[n-1].Width = max(end-ws[n-1].Start, 1)
	for _, s := range samples {
		ws[slot(s.Sent)].Sent++
		i := slot(s.Confirmed)
		ws[i].Confirmed++
		lat[i] = append(lat[i], s.latency())
	}
	for i := range ws {
		slices.Sort(lat[i])
		ws[i].Latency = latencySummary{P50: percentile(lat[i], 0.50), P99: percentile(lat[i], 0.99),
			P999: percentile(lat[i], 0.999), Max: percentile(lat[i], 1)}
	}
	return ws
}

// spectrumPoint is one point of a latency distribution drawn against
// "nines": Nines is -log10(1-q), so 1 is p90, 2 p99 and 3 p99.9.
type spectrumPoint struct {
	Nines   float64
	Latency time.Duration
}

// spectrum samples the latency distribution every 0.05 nines, from p0 up
// to the last quantile the run has enough orders for (1-1/n), then the
// maximum.
func spectrum(samples []orderSample) []spectrumPoint {
	l := sortedLatencies(samples)
	if len(l) == 0 {
		return nil
	}
	top := math.Log10(float64(len(l)))
	var pts []spectrumPoint
	for k := 0; float64(k)*0.05 < top-1e-9; k++ {
		x := float64(k) * 0.05
		pts = append(pts, spectrumPoint{Nines: x, Latency: percentile(l, 1-math.Pow(10, -x))})
	}
	return append(pts, spectrumPoint{Nines: top, Latency: l[len(l)-1]})
}

func ms(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }

func TestPercentile(t *testing.T) {
	hundred := make([]time.Duration, 100) // 1..100 ms
	for i := range hundred {
		hundred[i] = ms(float64(i + 1))
	}
	for _, c := range []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"none", nil, 0.5, 0},
		{"one", []time.Duration{ms(7)}, 0.999, ms(7)},
		{"p0 is the least", hundred, 0, ms(1)},
		{"p50 of 100", hundred, 0.50, ms(50)},
		{"p99 of 100 is the 99th, not the 100th", hundred, 0.99, ms(99)},
		{"p99.9 of 100 is the max", hundred, 0.999, ms(100)},
		{"p100", hundred, 1, ms(100)},
		{"p50 of 2 is the lower", []time.Duration{ms(1), ms(9)}, 0.5, ms(1)},
	} {
		if got := percentile(c.sorted, c.q); got != c.want {
			t.Errorf("%s: percentile(%v) = %v, want %v", c.name, c.q, got, c.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	// 1,000 orders: 990 at 2 ms, 9 at 10 ms, one at 50 ms, in no order.
	var samples []orderSample
	for i := range 1000 {
		l := ms(2)
		switch {
		case i == 500:
			l = ms(50)
		case i%100 == 7 && i < 900:
			l = ms(10)
		}
		sent := time.Duration(999-i) * time.Millisecond
		samples = append(samples, orderSample{Sent: sent, Confirmed: sent + l})
	}
	got := summarize(samples)
	want := latencySummary{P50: ms(2), P99: ms(2), P999: ms(10), Max: ms(50)}
	if got != want {
		t.Fatalf("summarize = %+v, want %+v", got, want)
	}
}

func TestWindows(t *testing.T) {
	// 3.3 s at 10 orders/s: order i sent at i*100 ms; the first second's
	// orders take 5 ms, the rest 50 ms.
	var samples []orderSample
	for i := range 33 {
		sent := time.Duration(i) * 100 * time.Millisecond
		l := ms(50)
		if i < 10 {
			l = ms(5)
		}
		samples = append(samples, orderSample{Sent: sent, Confirmed: sent + l})
	}
	ws := windows(samples, time.Second)
	if len(ws) != 3 {
		t.Fatalf("%d windows, want 3 (the 0.25 s remainder joins the third): %+v", len(ws), ws)
	}
	if ws[2].Start != 2*time.Second || ws[2].Width != 1250*time.Millisecond {
		t.Errorf("last window starts %v, %v wide; want 2s, 1.25s", ws[2].Start, ws[2].Width)
	}
	for i, want := range []struct {
		sent, confirmed int
		p50             time.Duration
	}{{10, 10, ms(5)}, {10, 10, ms(50)}, {13, 13, ms(50)}} {
		w := ws[i]
		if w.Sent != want.sent || w.Confirmed != want.confirmed || w.Latency.P50 != want.p50 {
			t.Errorf("window %d: sent %d confirmed %d p50 %v; want %d %d %v", i, w.Sent, w.Confirmed, w.Latency.P50, want.sent, want.confirmed, want.p50)
		}
	}
	if got := ws[0].confirmedPerSecond(); got != 10 {
		t.Errorf("window 0: %v confirmed/s, want 10", got)
	}
	if got := ws[2].confirmedPerSecond(); got != 13/1.25 {
		t.Errorf("last window: %v confirmed/s, want %v", got, 13/1.25)
	}

	// A remainder of half a width or more is a window of its own.
	if ws := windows(samples[:27], time.Second); len(ws) != 3 || ws[2].Width != 650*time.Millisecond {
		t.Errorf("2.65 s run: %+v, want 3 windows, the last 0.65 s", ws)
	}
	// An order confirmed in a later window than it was sent counts there.
	late := []orderSample{{Sent: 900 * time.Millisecond, Confirmed: 1500 * time.Millisecond}, {Sent: 0, Confirmed: ms(1)}, {Sent: ms(1999), Confirmed: ms(2000)}}
	ws = windows(late, time.Second)
	if ws[0].Sent != 2 || ws[0].Confirmed != 1 || ws[1].Sent != 1 || ws[1].Confirmed != 2 || ws[1].Latency.Max != ms(600) {
		t.Errorf("late order: %+v", ws)
	}
	if windows(nil, time.Second) != nil {
		t.Error("windows of no samples should be nil")
	}
}

func TestSpectrum(t *testing.T) {
	var samples []orderSample
	for i := range 1000 { // latencies 1..1000 µs
		samples = append(samples, orderSample{Confirmed: time.Duration(i+1) * time.Microsecond})
	}
	pts := spectrum(samples)
	at := func(nines float64) time.Duration {
		for _, p := range pts {
			if math.Abs(p.Nines-nines) < 1e-6 {
				return p.Latency
			}
		}
		t.Fatalf("no point at %v nines in %v", nines, pts)
		return 0
	}
	for _, c := range []struct {
		nines float64
		want  time.Duration
	}{{0, time.Microsecond}, {1, 900 * time.Microsecond}, {2, 990 * time.Microsecond}, {3, 1000 * time.Microsecond}} {
		if got := at(c.nines); got != c.want {
			t.Errorf("%v nines: %v, want %v", c.nines, got, c.want)
		}
	}
	for i := 1; i < len(pts); i++ {
		if pts[i].Nines <= pts[i-1].Nines || pts[i].Latency < pts[i-1].Latency {
			t.Fatalf("spectrum not increasing at %d: %v then %v", i, pts[i-1], pts[i])
		}
	}
}
