package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/contracts"
)

// BenchmarkOrderFlow places orders on the whole flow (one process, embedded
// NATS, as `make run`) and reports orders confirmed per second and the
// p50/p99 time from orders.create to orders.confirmed: once at a fixed
// offered rate and once at full speed. LOAD_ORDERS sets how many orders
// each run places (default 3000). Run it with `make load`.
func BenchmarkOrderFlow(b *testing.B) {
	n := 3000
	if v, err := strconv.Atoi(os.Getenv("LOAD_ORDERS")); err == nil && v > 0 {
		n = v
	}
	for _, rate := range []int{500, 0} {
		name := "rate=max"
		if rate > 0 {
			name = fmt.Sprintf("rate=%d", rate)
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				runLoad(b, n, rate)
			}
		})
	}
}

// runLoad places n orders, at rate per second or as fast as 64 callers can
// (rate 0), and waits for every one to be confirmed.
func runLoad(b *testing.B, n, rate int) {
	f := startFlow(b)
	const skus = 20
	for i := range skus {
		f.setStock(fmt.Sprintf("sku-%d", i), 1_000_000, 100)
	}
	var mu sync.Mutex
	sent := make(map[string]time.Time, n)
	latencies := make([]time.Duration, 0, n)
	done := make(chan struct{})
	var confirmed atomic.Int64
	early := map[string]time.Time{}
	sub, err := f.nc.Subscribe(contracts.SubjectOrdersConfirmed, func(m *nats.Msg) {
		var ev contracts.OrderConfirmedEvent
		if json.Unmarshal(m.Data, &ev) != nil {
			return
		}
		now := time.Now()
		mu.Lock()
		defer mu.Unlock()
		t0, ok := sent[ev.OrderID]
		if !ok {
			early[ev.OrderID] = now
			return
		}
		delete(sent, ev.OrderID)
		latencies = append(latencies, now.Sub(t0))
		if confirmed.Add(1) == int64(n) {
			close(done)
		}
	})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Unsubscribe()

	body := func(i int) []byte {
		return fmt.Appendf(nil, `{"customer_id":"c-%d","items":[{"product_id":"sku-%d","quantity":1}]}`, i, i%skus)
	}
	place := func(i int) {
		t0 := time.Now()
		m, err := f.nc.Request(contracts.SubjectOrdersCreate, body(i), 10*time.Second)
		if err != nil || m.Header.Get("Nats-Service-Error-Code") != "" {
			b.Errorf("create: %v %v", err, m)
			return
		}
		var r contracts.CreateOrderReply
		_ = json.Unmarshal(m.Data, &r)
		mu.Lock()
		defer mu.Unlock()
		if at, ok := early[r.OrderID]; ok { // confirmed before the reply arrived
			delete(early, r.OrderID)
			latencies = append(latencies, at.Sub(t0))
			if confirmed.Add(1) == int64(n) {
				close(done)
			}
			return
		}
		sent[r.OrderID] = t0
	}

	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	if rate > 0 {
		tick := time.NewTicker(time.Second / time.Duration(rate))
		for i := range n {
			<-tick.C
			wg.Add(1)
			go func() { defer wg.Done(); place(i) }()
		}
		tick.Stop()
	} else {
		var next atomic.Int64
		for range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1)); i <= n; i = int(next.Add(1)) {
					place(i)
				}
			}()
		}
	}
	wg.Wait()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		b.Fatalf("only %d of %d orders confirmed", confirmed.Load(), n)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	slices.Sort(latencies)
	p := func(q float64) float64 {
		return float64(latencies[int(q*float64(len(latencies)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(n)/elapsed.Seconds(), "confirmed/s")
	b.ReportMetric(p(0.50), "p50-ms")
	b.ReportMetric(p(0.99), "p99-ms")
}
