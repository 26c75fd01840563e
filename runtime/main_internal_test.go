package runtime

import (
	"net"
	"runtime/debug"
	"syscall"
	"testing"
	"time"
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

// TestMainStoppedWhileStarting: SIGTERM while a binary still waits for
// NATS ends it at once with exit code 0, as a stop after the start does: a
// rolling update or a scale-down that stops an instance still starting is
// not a failure.
func TestMainStoppedWhileStarting(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0") // a port that accepts and never speaks NATS
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t.Setenv("NATS_URL", "nats://"+l.Addr().String())
	t.Setenv("NATSFN_OPS_ADDR", "off")
	t.Setenv("NATSFN_CONNECT_TIMEOUT", "30s")
	svc := NewService(ServiceConfig{Name: "x", Version: "1.0.0"})
	code := make(chan int, 1)
	go func() { code <- mainCode(nil, svc) }()
	time.Sleep(300 * time.Millisecond) // mainCode is waiting for NATS by now
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case c := <-code:
		if c != 0 {
			t.Fatalf("exit code %d after SIGTERM while starting, want 0", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("SIGTERM while starting did not end mainCode within 10s")
	}
}
