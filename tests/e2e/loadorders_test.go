package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/contracts"
)

// stockLoadSKUs gives each of the products the load's orders spread over
// (loadSKUs) quantity units, at 100 cents.
func (f *flow) stockLoadSKUs(quantity int) {
	for i := range loadSKUs {
		f.setStock(fmt.Sprintf("sku-%d", i), quantity, 100)
	}
}

// placeOrders places orders on f and waits until each is confirmed. At a
// rate (per second) it places n on a fixed schedule, order i due at
// i/rate; at rate 0, callers place orders back to back, n of them (no
// limit if n <= 0), until d has passed. It returns one sample per order,
// with the time its durations count from, and an error if an order could
// not be placed, was cancelled, or was not confirmed within loadDrain of
// the last one placed.
func placeOrders(f *flow, callers, rate, n int, d time.Duration) ([]orderSample, time.Time, error) {
	tr := newTracker()
	for subject, on := range map[string]func(*nats.Msg){
		contracts.SubjectOrdersConfirmed: tr.onConfirmed,
		contracts.SubjectOrdersCancelled: tr.onCancelled,
	} {
		sub, err := f.nc.Subscribe(subject, on)
		if err != nil {
			return nil, time.Time{}, err
		}
		defer sub.Unsubscribe()
		// Confirmations arrive as fast as orders; never drop one.
		if err := sub.SetPendingLimits(-1, -1); err != nil {
			return nil, time.Time{}, err
		}
	}
	if err := f.nc.Flush(); err != nil {
		return nil, time.Time{}, err
	}

	var placed atomic.Int64
	place := func(due time.Duration) {
		sent := time.Since(tr.start)
		i := placed.Add(1)
		body := fmt.Appendf(nil, `{"customer_id":"c-%d","items":[{"product_id":"sku-%d","quantity":1}]}`, i, i%loadSKUs)
		m, err := f.nc.Request(contracts.SubjectOrdersCreate, body, 10*time.Second)
		if err != nil {
			tr.fail(fmt.Errorf("orders.create: %w", err))
			return
		}
		if code := m.Header.Get(micro.ErrorCodeHeader); code != "" {
			tr.fail(fmt.Errorf("orders.create: %s %s", code, m.Header.Get(micro.ErrorHeader)))
			return
		}
		var r contracts.CreateOrderReply
		if err := json.Unmarshal(m.Data, &r); err != nil || r.OrderID == "" {
			tr.fail(fmt.Errorf("orders.create replied %q: %v", m.Data, err))
			return
		}
		tr.placed(r.OrderID, orderSample{Sent: sent, Late: max(sent-due, 0)})
	}

	var wg sync.WaitGroup
	tr.begin()
	if rate > 0 {
		for i := range n {
			due := time.Duration(i) * time.Second / time.Duration(rate)
			if wait := due - time.Since(tr.start); wait > 0 {
				time.Sleep(wait)
			}
			if tr.err() != nil {
				break
			}
			wg.Go(func() { place(due) })
		}
	} else {
		var next atomic.Int64
		for range callers {
			wg.Go(func() {
				for (n <= 0 || next.Add(1) <= int64(n)) && time.Since(tr.start) < d && tr.err() == nil {
					place(time.Since(tr.start))
				}
			})
		}
	}
	wg.Wait()
	tr.stopPlacing()
	select {
	case <-tr.done:
	case <-time.After(loadDrain):
		tr.fail(fmt.Errorf("%d of %d orders confirmed %s after the last was placed", tr.confirmedCount(), tr.count(), loadDrain))
	}
	samples, err := tr.result()
	return samples, tr.start, err
}

// tracker follows a run's orders from orders.create sent to
// orders.confirmed seen. A confirmation may arrive before the create
// reply that names its order, and a redelivered handler may publish it
// twice (the stream dedupes, a core subscriber does not): it counts once.
type tracker struct {
	start time.Time

	mu        sync.Mutex
	samples   []orderSample
	byID      map[string]int           // order id → samples index, from the create reply
	early     map[string]time.Duration // confirmations seen before their create reply
	confirmed int
	placing   bool
	failure   error
	done      chan struct{} // closed once placing is over and every order is confirmed, or on failure
	closed    bool
}

func newTracker() *tracker {
	return &tracker{byID: map[string]int{}, early: map[string]time.Duration{}, placing: true, done: make(chan struct{})}
}

// begin starts the run's clock. Until then no order is placed, so the
// placing goroutines, all started after it, read start without a lock;
// the subscriptions, which may see a stray event before, take one.
func (tr *tracker) begin() {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.start = time.Now()
}

// placed records an order the create reply named.
func (tr *tracker) placed(id string, s orderSample) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	s.ID = id
	if at, ok := tr.early[id]; ok {
		delete(tr.early, id)
		s.Confirmed = at
		tr.confirmed++
	}
	tr.byID[id] = len(tr.samples)
	tr.samples = append(tr.samples, s)
	tr.check()
}

func (tr *tracker) onConfirmed(m *nats.Msg) {
	now := time.Now()
	var ev contracts.OrderConfirmedEvent
	if err := json.Unmarshal(m.Data, &ev); err != nil {
		tr.fail(fmt.Errorf("orders.confirmed %q: %w", m.Data, err))
		return
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	at := now.Sub(tr.start)
	i, ok := tr.byID[ev.OrderID]
	switch {
	case !ok:
		if _, seen := tr.early[ev.OrderID]; !seen {
			tr.early[ev.OrderID] = at
		}
	case tr.samples[i].Confirmed == 0:
		tr.samples[i].Confirmed = at
		tr.confirmed++
		tr.check()
	}
}

// onCancelled fails the run: nothing here should cancel an order (stock
// is ample, the gateway accepts every charge).
func (tr *tracker) onCancelled(m *nats.Msg) {
	var ev contracts.OrderCancelledEvent
	_ = json.Unmarshal(m.Data, &ev)
	tr.fail(fmt.Errorf("order %s cancelled: %s", ev.OrderID, ev.Reason))
}

func (tr *tracker) fail(err error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if tr.failure == nil {
		tr.failure = err
	}
	tr.close()
}

func (tr *tracker) err() error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.failure
}

// stopPlacing says every order has been placed (every place call has
// returned).
func (tr *tracker) stopPlacing() {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.placing = false
	tr.check()
}

// check closes done once nothing is left to wait for. Hold mu.
func (tr *tracker) check() {
	if !tr.placing && tr.confirmed == len(tr.samples) {
		tr.close()
	}
}

func (tr *tracker) close() {
	if !tr.closed {
		tr.closed = true
		close(tr.done)
	}
}

func (tr *tracker) count() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return len(tr.samples)
}

func (tr *tracker) confirmedCount() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.confirmed
}

// result is the samples, or the run's failure.
func (tr *tracker) result() ([]orderSample, error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	switch {
	case tr.failure != nil:
		return nil, tr.failure
	case len(tr.samples) == 0:
		return nil, errors.New("no order was placed")
	}
	return tr.samples, nil
}
