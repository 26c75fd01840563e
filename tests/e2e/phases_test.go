package e2e

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/functions/orders"
	"github.com/natsfn/natsfn/functions/payments"
	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// moneyFamilies are the events whose money became {amount, currency} in
// major 2.
var moneyFamilies = []string{"inventory.reserved", "payments.completed", "payments.failed", "payments.refunded"}

// atPhase sets every money family to phase.
func atPhase(phase string) func(cfg *runtime.Config) {
	return func(cfg *runtime.Config) {
		cfg.Phases = map[string]string{}
		for _, f := range moneyFamilies {
			cfg.Phases[f] = phase
		}
	}
}

// TestMoneyChangeThroughThePhases runs the order flow with the producers
// of every money event at v1, dual and v2: the consumers, written for
// major 1 and accepting major 2, confirm and cancel orders the same way
// at each, handle a dual pair once, and the streams hold what the phase
// says.
func TestMoneyChangeThroughThePhases(t *testing.T) {
	for _, phase := range []string{"v1", "dual", "v2"} {
		t.Run(phase, func(t *testing.T) {
			f := startFlowConfig(t, atPhase(phase))
			f.setStock("sku-a", 10, 1250)
			f.setStock("sku-b", 5, 300)
			ok := f.place("c-1", item("sku-a", 2), item("sku-b", 1))
			if v := f.settle(ok, 15*time.Second); v.Status != contracts.StatusConfirmed || v.TotalCents != 2*1250+300 {
				t.Fatalf("order %+v", v)
			}
			f.gateway(contracts.GatewayDecline)
			declined := f.place("c-2", item("sku-a", 1))
			if v := f.settle(declined, 15*time.Second); v.Status != contracts.StatusCancelled || v.Reason != contracts.ReasonPaymentDeclined {
				t.Fatalf("declined order %+v", v)
			}
			waitFor(t, 10*time.Second, "stock of the declined order back", func() bool { return f.stock("sku-a") == 8 })
			if c := f.charges(); c[ok] != 1 || c[declined] != 0 {
				t.Errorf("charges %v", c)
			}
			v1, v2 := uint64(1), uint64(0)
			switch phase {
			case "dual":
				v2 = 1
			case "v2":
				v1, v2 = 0, 1
			}
			for _, c := range []struct {
				stream, subject string
				want            uint64
			}{
				{contracts.StreamInventory, contracts.SubjectInventoryReserved, 2 * v1},
				{contracts.StreamInventory, contracts.SubjectInventoryReservedV2, 2 * v2},
				{contracts.StreamPayments, contracts.SubjectPaymentsCompleted, v1},
				{contracts.StreamPayments, contracts.SubjectPaymentsCompletedV2, v2},
				{contracts.StreamPayments, contracts.SubjectPaymentsFailed, v1},
				{contracts.StreamPayments, contracts.SubjectPaymentsFailedV2, v2},
			} {
				if n := f.count(c.stream, c.subject); n != c.want {
					t.Errorf("%s holds %d events, want %d", c.subject, n, c.want)
				}
			}
			// Released once: the inventory handler took one copy of payments.failed.
			waitFor(t, 10*time.Second, "inventory.released", func() bool {
				return f.count(contracts.StreamInventory, contracts.SubjectInventoryReleased) == 1
			})
			time.Sleep(200 * time.Millisecond)
			if n := f.count(contracts.StreamInventory, contracts.SubjectInventoryReleased); n != 1 {
				t.Errorf("%d inventory.released events", n)
			}
		})
	}
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRollingPhasesUnderLoad is the rolling upgrade of issue 10, in one
// process: orders arrive at about 100/s (20/s under -race) while the producers of the money
// events (inventory and payments, one instance each) are replaced one at a
// time by instances at dual, then at v2, each started before the one it
// replaces stops. Nothing is dead-lettered, every order is confirmed and
// charged once, and the stock is exact. (The consumers accept both majors
// all along; tests/containers' TestRollingPhases runs it with containers.)
func TestRollingPhasesUnderLoad(t *testing.T) {
	srv := fntest.NewServer(t)
	config := func(name, phase string) runtime.Config {
		cfg := srv.Config(name)
		// nats-server 2.15 gives every atomic batch of an R1 file stream
		// its own file store (jetstream_batching.go, newBatchStore): under
		// -race on a busy machine the streams of the dual phase fall
		// seconds behind, and a replaced instance waits for its emits.
		cfg.ShutdownTimeout = time.Minute
		if phase != "" {
			atPhase(phase)(&cfg)
		}
		return cfg
	}
	run := func(name, phase string, svc *runtime.Service) *runtime.Instance {
		return fntest.RunConfig(t, config(name, phase), svc)
	}
	// The three start together, as they wait for each other's streams;
	// each is an instance of its own, to be replaced alone.
	var (
		first  [3]*runtime.Instance
		failed [3]error
		wg     sync.WaitGroup
	)
	for i, c := range []struct {
		name, phase string
		svc         *runtime.Service
	}{
		{"orders", "", orders.New(orders.Config{})},
		{"inventory-v1", "v1", inventory.New(inventory.Config{})},
		{"payments-v1", "v1", payments.New(payments.Config{})},
	} {
		wg.Go(func() { first[i], failed[i] = runtime.Start(t.Context(), config(c.name, c.phase), c.svc) })
	}
	wg.Wait()
	for _, in := range first {
		if in != nil {
			t.Cleanup(func() { _ = in.Stop() })
		}
	}
	for _, err := range failed {
		if err != nil {
			t.Fatal(err)
		}
	}
	inv, pay := first[1], first[2]
	f := connectFlow(t, srv)
	const stock = 100000
	f.setStock("sku-a", stock, 1250)

	var (
		mu     sync.Mutex
		placed []string
		qty    int
		errs   []error
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		every := 10 * time.Millisecond // 100 orders/s
		if raceDetector {
			every = 50 * time.Millisecond // see ShutdownTimeout above
		}
		tick := time.NewTicker(every)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			n := 1 + i%3
			body, _ := json.Marshal(contracts.CreateOrderRequest{CustomerID: "c-roll", Items: []contracts.OrderItem{item("sku-a", n)}})
			m, err := f.nc.Request(contracts.SubjectOrdersCreate, body, 5*time.Second)
			var r contracts.CreateOrderReply
			if err == nil {
				err = json.Unmarshal(m.Data, &r)
			}
			mu.Lock()
			if err != nil || r.OrderID == "" {
				errs = append(errs, fmt.Errorf("create: %v %s", err, m.Data))
			} else {
				placed, qty = append(placed, r.OrderID), qty+n
			}
			mu.Unlock()
		}
	}()
	step := func(old *runtime.Instance, name, phase string, svc *runtime.Service) *runtime.Instance {
		time.Sleep(time.Second)
		next := run(name, phase, svc)
		t0 := time.Now()
		if err := old.Stop(); err != nil {
			t.Errorf("stop the instance %s replaces: %v", name, err)
		}
		t.Logf("%s replaced its predecessor, which stopped in %s", name, time.Since(t0).Round(time.Millisecond))
		return next
	}
	inv = step(inv, "inventory-dual", "dual", inventory.New(inventory.Config{}))
	pay = step(pay, "payments-dual", "dual", payments.New(payments.Config{}))
	inv = step(inv, "inventory-v2", "v2", inventory.New(inventory.Config{}))
	_ = step(pay, "payments-v2", "v2", payments.New(payments.Config{}))
	time.Sleep(time.Second)
	close(stop)
	<-done

	mu.Lock()
	defer mu.Unlock()
	if len(errs) > 0 {
		t.Fatalf("%d orders not placed, first: %v", len(errs), errs[0])
	}
	if len(placed) < 60 {
		t.Fatalf("only %d orders placed", len(placed))
	}
	for _, id := range placed {
		if v := f.settle(id, 30*time.Second); v.Status != contracts.StatusConfirmed {
			t.Fatalf("order %s: %+v", id, v)
		}
	}
	charges := f.charges()
	for _, id := range placed {
		if charges[id] != 1 {
			t.Errorf("order %s charged %d times", id, charges[id])
		}
	}
	if got := f.stock("sku-a"); got != stock-qty {
		t.Errorf("stock %d, want %d - %d = %d", got, stock, qty, stock-qty)
	}
	if st, err := f.js.Stream(t.Context(), "DEADLETTER"); err != nil {
		t.Errorf("DEADLETTER: %v", err)
	} else if info, err := st.Info(t.Context()); err != nil || info.State.Msgs != 0 {
		t.Errorf("%d dead letters (%v)", info.State.Msgs, err)
	}
	v1 := f.count(contracts.StreamInventory, contracts.SubjectInventoryReserved)
	v2 := f.count(contracts.StreamInventory, contracts.SubjectInventoryReservedV2)
	if v1 == 0 || v2 == 0 || v1+v2 < uint64(len(placed)) {
		t.Errorf("inventory.reserved: %d in major 1 and %d in major 2 for %d orders", v1, v2, len(placed))
	}
	t.Logf("%d orders, %d items; inventory.reserved stored %d v1 and %d v2", len(placed), qty, v1, v2)
}
