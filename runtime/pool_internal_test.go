package runtime

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPoolStartsWorkersWhenNeeded: a pool starts no worker before its
// first job, starts more only while jobs wait with none parked, never more
// than its workers, and runs every job once.
func TestPoolStartsWorkersWhenNeeded(t *testing.T) {
	const workers, jobs = 4, 40
	var running, most, ran atomic.Int64
	release := make(chan struct{})
	var done sync.WaitGroup
	p := newPool(workers, jobs, func(int) {
		n := running.Add(1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		<-release
		running.Add(-1)
		ran.Add(1)
		done.Done()
	})
	started := func() int {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.started
	}
	if n := started(); n != 0 {
		t.Fatalf("%d workers started before any job, want 0", n)
	}
	done.Add(1)
	p.put(0)
	waitFor(t, func() bool { return running.Load() == 1 })
	if n := started(); n != 1 {
		t.Fatalf("%d workers started for one job, want 1", n)
	}
	for j := 1; j < jobs; j++ {
		done.Add(1)
		p.put(j)
	}
	waitFor(t, func() bool { return running.Load() == workers })
	close(release)
	done.Wait()
	p.stop()
	if n := started(); n != workers {
		t.Fatalf("%d workers started for %d waiting jobs, want %d", n, jobs, workers)
	}
	if m := most.Load(); m != workers {
		t.Fatalf("%d jobs ran at once, want %d", m, workers)
	}
	if n := ran.Load(); n != jobs {
		t.Fatalf("ran %d jobs, want %d", n, jobs)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(time.Millisecond)
	}
}
