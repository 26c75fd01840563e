package containers

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/natsfn/natsfn/contracts"
)

// load places orders at a steady rate in the background, each one
// retried with its Idempotency-Key until acknowledged or 20s pass, as a
// careful client does.
type load struct {
	f      *flow
	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup

	mu     sync.Mutex
	acked  []string
	failed []error
}

// startLoad places an order for qty units of sku rate times a second
// until stop.
func (f *flow) startLoad(rate int, sku string, qty int) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{f: f, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		for n := 0; ; n++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			l.wg.Add(1)
			go func() {
				defer l.wg.Done()
				id, err := f.tryPlace(20*time.Second, fmt.Sprintf("load-%d", n), contracts.OrderItem{ProductID: sku, Quantity: qty})
				l.mu.Lock()
				defer l.mu.Unlock()
				if err != nil {
					l.failed = append(l.failed, err)
					return
				}
				l.acked = append(l.acked, id)
			}()
		}
	}()
	f.t.Cleanup(func() { l.stop() })
	return l
}

// count is how many orders were acknowledged so far.
func (l *load) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// waitCount waits until n orders were acknowledged.
func (l *load) waitCount(n int, within time.Duration) {
	l.f.t.Helper()
	waitFor(l.f.t, within, 20*time.Millisecond, fmt.Sprintf("%d orders acknowledged", n), func() error {
		if c := l.count(); c < n {
			return fmt.Errorf("%d acknowledged, %d failed", c, len(l.failures()))
		}
		return nil
	})
}

func (l *load) failures() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]error(nil), l.failed...)
}

// stop stops placing orders, waits for those in flight, and returns the
// acknowledged order ids and the creates that failed.
func (l *load) stop() (acked []string, failed []error) {
	l.cancel()
	<-l.done
	l.wg.Wait()
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.acked...), append([]error(nil), l.failed...)
}
