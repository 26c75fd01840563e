package runtime

import (
	"runtime/debug"
	"testing"
)

func TestMainExitsNonZeroOnBadConfig(t *testing.T) {
	t.Setenv("NATSFN_REPLICAS", "lots")
	svc := NewService(ServiceConfig{Name: "x", Version: "1.0.0"})
	if code := mainCode(nil, svc); code != 2 {
		t.Fatalf("exit code %d, want 2", code)
	}
}

// TestHoldGCAtStart: while a binary starts, the GC's target is
// startGCPercent, and the operator's GOGC is left alone.
func TestHoldGCAtStart(t *testing.T) {
	t.Setenv("GOGC", "")
	before := debug.SetGCPercent(100)
	defer debug.SetGCPercent(before)
	release := holdGC()
	if p := debug.SetGCPercent(startGCPercent); p != startGCPercent {
		t.Fatalf("GC percent %d while starting, want %d", p, startGCPercent)
	}
	release()
	if p := debug.SetGCPercent(100); p != 100 {
		t.Fatalf("GC percent %d after the start, want 100 back", p)
	}

	t.Setenv("GOGC", "50")
	debug.SetGCPercent(50)
	release = holdGC()
	if p := debug.SetGCPercent(50); p != 50 {
		t.Fatalf("GC percent %d with GOGC=50 set, want 50", p)
	}
	release()
}
