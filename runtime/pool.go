package runtime

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// pool runs a handler's messages on a fixed set of long-lived workers. A
// worker keeps its grown stack, which makes it much cheaper than a goroutine
// per message; when every worker is busy, run blocks the subscription that
// feeds it, which is the back-pressure we want.
type pool struct {
	jobs chan func()
	quit chan struct{}
	busy atomic.Int64
	wg   sync.WaitGroup
}

func newPool(workers int) *pool {
	p := &pool{jobs: make(chan func()), quit: make(chan struct{})}
	for range workers {
		p.wg.Add(1)
		go p.work()
	}
	return p
}

func (p *pool) work() {
	defer p.wg.Done()
	for {
		select {
		case fn := <-p.jobs:
			fn()
			p.busy.Add(-1)
		case <-p.quit:
			return
		}
	}
}

// run hands fn to a worker, waiting for one to be free.
func (p *pool) run(fn func()) {
	p.busy.Add(1)
	p.jobs <- fn
}

// stop ends the workers once they are idle.
func (p *pool) stop() {
	close(p.quit)
	p.wg.Wait()
}

// quiesce waits until every pool has been idle for two checks in a row: the
// subscriptions are draining, so a callback may still hand over a message
// that arrived just before the drain.
func quiesce(ctx context.Context, pools []*pool) {
	idle := func() bool {
		for _, p := range pools {
			if p.busy.Load() != 0 {
				return false
			}
		}
		return true
	}
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	streak := 0
	for streak < 2 {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if idle() {
			streak++
		} else {
			streak = 0
		}
	}
}
