package containers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/functions/payments"
)

// setStock seeds a product through inventory.stock.set.
func (f *flow) setStock(sku string, qty int, cents int64) {
	f.t.Helper()
	var r contracts.StockReply
	f.call(contracts.SubjectInventoryStockSet, contracts.SetStockRequest{ProductID: sku, Quantity: qty, PriceCents: cents}, &r)
	if r.Quantity != qty {
		f.t.Fatalf("stock.set %s: replied %+v", sku, r)
	}
}

// stock reads a product's quantity through inventory.stock.get.
func (f *flow) stock(sku string) int {
	f.t.Helper()
	var r contracts.StockReply
	f.call(contracts.SubjectInventoryStockGet, contracts.GetStockRequest{ProductID: sku}, &r)
	return r.Quantity
}

// gateway sets the simulated payment gateway's mode for every instance.
func (f *flow) gateway(mode contracts.GatewayMode) {
	f.t.Helper()
	var r contracts.GatewayReply
	f.call(contracts.SubjectPaymentsGatewaySet, contracts.SetGatewayRequest{Mode: mode}, &r)
	if r.Mode != mode {
		f.t.Fatalf("gateway.set %s: replied %+v", mode, r)
	}
}

// tryPlace creates an order with a fresh Idempotency-Key, repeating the
// same request (so at most one order is made) until it is acknowledged or
// within passes. It returns the order id.
func (f *flow) tryPlace(within time.Duration, customer string, items ...contracts.OrderItem) (string, error) {
	var r contracts.CreateOrderReply
	req := contracts.CreateOrderRequest{CustomerID: customer, Items: items}
	if err := f.try(within, contracts.SubjectOrdersCreate, req, &r, "Idempotency-Key", uuid.NewString()); err != nil {
		return "", err
	}
	if r.OrderID == "" || (r.Status != contracts.StatusPending && r.Status != contracts.StatusReserved &&
		r.Status != contracts.StatusConfirmed && r.Status != contracts.StatusCancelled) {
		return "", fmt.Errorf("create replied %+v", r)
	}
	return r.OrderID, nil
}

// place is tryPlace that fails the test.
func (f *flow) place(customer string, items ...contracts.OrderItem) string {
	f.t.Helper()
	id, err := f.tryPlace(20*time.Second, customer, items...)
	if err != nil {
		f.t.Fatal(err)
	}
	return id
}

func final(v contracts.OrderView) bool {
	return v.Status == contracts.StatusConfirmed || v.Status == contracts.StatusCancelled
}

// settle waits until every order is confirmed or cancelled and returns
// their views. Stuck orders fail the test with their timelines and the
// consumers that still hold work.
func (f *flow) settle(within time.Duration, ids ...string) map[string]contracts.OrderView {
	f.t.Helper()
	views := make(map[string]contracts.OrderView, len(ids))
	deadline := time.Now().Add(within)
	for {
		var unread []string
		for _, id := range ids {
			if v, ok := views[id]; !ok || !final(v) {
				unread = append(unread, id)
			}
		}
		read := f.orders(unread)
		var stuck []string
		for _, id := range unread {
			views[id] = read[id]
			if !final(read[id]) {
				stuck = append(stuck, id)
			}
		}
		if len(stuck) == 0 {
			return views
		}
		if time.Now().After(deadline) {
			// A pass over thousands of orders takes a while on a busy
			// machine: read the ones it found unfinished once more, so
			// that only an order unfinished now fails the test.
			again := f.orders(stuck)
			stuck = slices.DeleteFunc(stuck, func(id string) bool {
				views[id] = again[id]
				return final(views[id])
			})
			if len(stuck) == 0 {
				return views
			}
			var b strings.Builder
			for i, id := range stuck {
				if i == 5 {
					fmt.Fprintf(&b, "  ... and %d more\n", len(stuck)-5)
					break
				}
				fmt.Fprintf(&b, "  %s %s %+v\n", id, views[id].Status, views[id].Timeline)
			}
			f.t.Fatalf("%d of %d orders not final after %s:\n%sconsumers: %s", len(stuck), len(ids), within, b.String(), f.busy())
		}
		time.Sleep(time.Second) // a pass is many requests: leave the flow room
	}
}

// orderReaders is how many orders.get requests orders keeps in flight: one
// at a time, a pass over the 15,000 orders of TestRollingPhases took
// minutes on the 2-core CI machine.
const orderReaders = 8

// orders reads the orders through orders.get, orderReaders at a time.
func (f *flow) orders(ids []string) map[string]contracts.OrderView {
	f.t.Helper()
	views := make([]contracts.OrderView, len(ids))
	errs := make([]error, len(ids))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(orderReaders, len(ids)) {
		wg.Go(func() {
			for i := range next {
				errs[i] = f.try(30*time.Second, contracts.SubjectOrdersGet, contracts.GetOrderRequest{OrderID: ids[i]}, &views[i])
			}
		})
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		f.t.Fatal(err)
	}
	out := make(map[string]contracts.OrderView, len(ids))
	for i, id := range ids {
		out[id] = views[i]
	}
	return out
}

// orderIDs lists every order the `orders` bucket holds: placed by the test
// or made by a create whose reply was lost.
func (f *flow) orderIDs() []string {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	kv, err := f.js.KeyValue(ctx, contracts.BucketOrders)
	if err != nil {
		f.t.Fatal(err)
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		f.t.Fatal(err)
	}
	var ids []string
	for k := range lister.Keys() {
		ids = append(ids, k)
	}
	return ids
}

// charges counts the gateway's real charges per order.
func (f *flow) charges() map[string]int {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := payments.Charges(ctx, f.js)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func item(sku string, qty int) contracts.OrderItem {
	return contracts.OrderItem{ProductID: sku, Quantity: qty}
}

// gatewaySet steers the simulated gateway (mode, failure rate, latency).
func (f *flow) gatewaySet(req contracts.SetGatewayRequest) {
	f.t.Helper()
	var r contracts.GatewayReply
	f.call(contracts.SubjectPaymentsGatewaySet, req, &r)
	if r.Mode != req.Mode {
		f.t.Fatalf("gateway.set %+v: replied %+v", req, r)
	}
}

func ptr[T any](v T) *T { return &v }
