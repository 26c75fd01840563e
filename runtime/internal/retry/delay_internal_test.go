package retry

import (
	"testing"
	"time"
)

func TestDelayIsJitteredAndCapped(t *testing.T) {
	p := Policy{Initial: 10 * time.Millisecond, Max: 80 * time.Millisecond}
	for attempt, top := range map[int]time.Duration{1: 10, 2: 20, 3: 40, 4: 80, 5: 80, 60: 80} {
		top *= time.Millisecond
		seen := map[time.Duration]bool{}
		for range 200 {
			d := p.delay(attempt)
			if d < top/2 || d > top {
				t.Fatalf("delay(%d) = %v, want within [%v, %v]", attempt, d, top/2, top)
			}
			seen[d] = true
		}
		if len(seen) < 10 {
			t.Errorf("delay(%d) took only %d values in 200 draws: not jittered", attempt, len(seen))
		}
	}
}
