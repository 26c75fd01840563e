package containers

import (
	"testing"
	"time"
)

// TestDrillLive checks the late-write rule of TestDrills: a first write
// is on time only while one of its caller's attempts is live.
func TestDrillLive(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	attempts := []drillAttempt{
		{sent: t0, deadline: t0.Add(5 * time.Second)},
		{sent: t0.Add(8 * time.Second), deadline: t0.Add(13 * time.Second)},
	}
	for _, c := range []struct {
		at   time.Duration
		live bool
	}{
		{-time.Millisecond, false},
		{0, true},
		{5 * time.Second, true},
		{5*time.Second + time.Millisecond, false}, // between the attempts
		{9 * time.Second, true},
		{13*time.Second + time.Millisecond, false}, // after the last deadline
	} {
		if got := live(attempts, t0.Add(c.at)); got != c.live {
			t.Errorf("written %s after the first attempt: live %v, want %v", c.at, got, c.live)
		}
	}
}

// TestDrillErrorSeconds checks the figures a drill prints about its
// callers' errors.
func TestDrillErrorSeconds(t *testing.T) {
	if span, n := errorSeconds(nil); span != 0 || n != 0 {
		t.Errorf("no errors: %s, %d seconds", span, n)
	}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 900_000_000, time.UTC)
	errs := []time.Time{t0.Add(3 * time.Second), t0, t0.Add(200 * time.Millisecond), t0.Add(250 * time.Millisecond)}
	span, n := errorSeconds(errs)
	if span != 3*time.Second || n != 3 { // seconds :00, :01 and :03
		t.Errorf("errors %v: span %s and %d seconds, want 3s and 3", errs, span, n)
	}
}

// TestDrillErrorOffsets checks the seconds a drill's report says its
// callers saw errors in.
func TestDrillErrorOffsets(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	at := func(ms ...int) []time.Time {
		var ts []time.Time
		for _, m := range ms {
			ts = append(ts, t0.Add(time.Duration(m)*time.Millisecond))
		}
		return ts
	}
	for _, c := range []struct {
		errs []time.Time
		want string
	}{
		{nil, ""},
		{at(5_100), "+5"},
		{at(48_000, 3_200, 4_900, 5_000, 3_900), "+3-5 +48"},
		{at(7_000, 9_000), "+7 +9"},
	} {
		if got := errorOffsets(t0, c.errs); got != c.want {
			t.Errorf("errorOffsets(%v) = %q, want %q", c.errs, got, c.want)
		}
	}
}
