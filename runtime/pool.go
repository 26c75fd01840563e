package runtime

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// pool runs a handler's messages on a bounded set of long-lived workers,
// from a bounded FIFO queue. A worker keeps its grown stack, which makes it
// much cheaper than a goroutine per message, and a job is a value, not a
// closure, so handing one over allocates nothing.
//
// It wakes a parked worker only when no other woken worker is on its way
// to the queue, and a worker takes the next job without parking while
// there is one. A burst of quick messages is then run by one or two
// workers back to back, which also lets nats.go write their replies and
// publishes in few syscalls, where a channel hands each message to another
// parked worker: with a channel a Concurrency(64) endpoint kept 0.70-0.73
// of a bare micro echo, with this queue 0.84-0.96, and nats.go's flusher
// fell from 8% to 2% of the event path's profile (runtime/README.md,
// Benchmarks). Messages that wait (a KV round trip) still spread over the
// workers: a worker that takes a job while others are queued wakes the
// next one.
type pool[T any] struct {
	run func(T)

	mu       sync.Mutex
	queue    []T // a ring of cap(queue) jobs from head
	head, n  int
	parked   []*poolWorker // LIFO: the last parked has the warmest cache
	spinning int           // woken workers that have not taken a job yet
	// started is how many workers run, up to workers: they start when
	// first needed. Starting every worker up front cost a start 0.3 ms
	// per pool of 64 (their first lock on mu contended), about 2 ms of an
	// orders instance's 10 ms to its first PING on an idle machine.
	started, workers int
	closed           bool
	// room wakes a put waiting for the queue to have room.
	room        sync.Cond
	roomWaiters int

	// busy counts jobs queued or running.
	busy atomic.Int64
	wg   sync.WaitGroup
}

type poolWorker struct {
	wake     chan struct{}
	spinning bool
}

// newPool makes a pool of up to workers workers that run jobs, with room
// for capacity queued. A worker starts when a job finds none parked.
func newPool[T any](workers, capacity int, run func(T)) *pool[T] {
	p := &pool[T]{run: run, queue: make([]T, max(capacity, 1)), workers: max(workers, 1)}
	p.room.L = &p.mu
	return p
}

func (p *pool[T]) work(w *poolWorker) {
	defer p.wg.Done()
	var zero T
	p.mu.Lock()
	for {
		if p.n > 0 {
			j := p.queue[p.head]
			p.queue[p.head] = zero
			p.head = (p.head + 1) % len(p.queue)
			p.n--
			if w.spinning {
				w.spinning = false
				p.spinning--
			}
			if p.n > 0 && p.spinning == 0 {
				p.wakeOne()
			}
			if p.roomWaiters > 0 {
				p.room.Signal()
			}
			p.mu.Unlock()
			p.run(j)
			p.busy.Add(-1)
			p.mu.Lock()
			continue
		}
		if w.spinning {
			w.spinning = false
			p.spinning--
		}
		if p.closed {
			p.mu.Unlock()
			return
		}
		p.parked = append(p.parked, w)
		p.mu.Unlock()
		<-w.wake
		p.mu.Lock()
	}
}

// wakeOne wakes a parked worker, or starts one while fewer than workers
// run. p.mu is held.
func (p *pool[T]) wakeOne() {
	if len(p.parked) == 0 {
		if p.started == p.workers || p.closed {
			return
		}
		p.started++
		p.spinning++
		p.wg.Add(1)
		go p.work(&poolWorker{wake: make(chan struct{}, 1), spinning: true})
		return
	}
	w := p.parked[len(p.parked)-1]
	p.parked = p.parked[:len(p.parked)-1]
	w.spinning = true
	p.spinning++
	w.wake <- struct{}{}
}

// enqueue adds j. p.mu is held and there is room.
func (p *pool[T]) enqueue(j T) {
	p.queue[(p.head+p.n)%len(p.queue)] = j
	p.n++
	p.busy.Add(1)
	if p.spinning == 0 {
		p.wakeOne()
	}
}

// offer queues j unless the queue is full.
func (p *pool[T]) offer(j T) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n == len(p.queue) || p.closed {
		return false
	}
	p.enqueue(j)
	return true
}

// put queues j, waiting for room.
func (p *pool[T]) put(j T) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.n == len(p.queue) && !p.closed {
		p.roomWaiters++
		p.room.Wait()
		p.roomWaiters--
	}
	if p.closed {
		return
	}
	p.enqueue(j)
}

// queued is how many jobs wait for a worker.
func (p *pool[T]) queued() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// capacity is how many jobs the queue holds.
func (p *pool[T]) capacity() int { return len(p.queue) }

// idle reports whether nothing is queued or running.
func (p *pool[T]) idle() bool { return p.busy.Load() == 0 }

// stop ends the workers once the queue is empty. Nothing may be queued
// after it.
func (p *pool[T]) stop() {
	p.mu.Lock()
	p.closed = true
	for len(p.parked) > 0 {
		p.wakeOne()
	}
	p.room.Broadcast()
	p.mu.Unlock()
	p.wg.Wait()
}

// quiescer is what quiesce waits for: a pool of any job type, or what
// owns one.
type quiescer interface {
	idle() bool
	stop()
}

// quiesce waits until every pool has been idle for two checks in a row: the
// subscriptions are draining, so a callback may still hand over a message
// that arrived just before the drain.
func quiesce(ctx context.Context, pools []quiescer) {
	idle := func() bool {
		for _, p := range pools {
			if !p.idle() {
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
