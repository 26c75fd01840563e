package containers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/functions/payments"
)

// flow is a client of the order flow from the host, connected to every
// node of the cluster through its mapped client port.
type flow struct {
	t  testing.TB
	nc *nats.Conn
	js jetstream.JetStream
	// retries counts requests sent again after a retryable failure.
	retries atomic.Int64
}

// connect opens a client connection as user to all three nodes and waits
// until JetStream answers. It is closed when the test ends.
func (s *stack) connect(user, password string) *flow {
	s.t.Helper()
	var urls []string
	for _, n := range s.nodes {
		u, err := n.clientURL(s.ctx)
		if err != nil {
			s.t.Fatal(err)
		}
		urls = append(urls, u)
	}
	nc, err := nats.Connect(strings.Join(urls, ","),
		nats.Name("tests/containers"),
		nats.UserInfo(user, password),
		// The cluster gossips its nodes' in-network names (nats-1:4222...),
		// which the host cannot resolve.
		nats.IgnoreDiscoveredServers(),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(100*time.Millisecond),
		nats.PingInterval(2*time.Second),
	)
	if err != nil {
		s.t.Fatalf("connect as %s to %v: %v", user, urls, err)
	}
	s.t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		s.t.Fatal(err)
	}
	f := &flow{t: s.t, nc: nc, js: js}
	waitFor(s.t, 30*time.Second, 100*time.Millisecond, "JetStream answers", func() error {
		ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err
	})
	return f
}

// serviceError is a micro error reply.
type serviceError struct {
	code int
	desc string
}

func (e *serviceError) Error() string { return fmt.Sprintf("%d %s", e.code, e.desc) }

// retryable reports whether repeating a request may succeed: no reply in
// time, nobody listening yet, or a 503 from a function whose dependency is
// failing over.
func retryable(err error) bool {
	var se *serviceError
	if errors.As(err, &se) {
		return se.code == 503
	}
	return errors.Is(err, nats.ErrTimeout) || errors.Is(err, nats.ErrNoResponders) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrConnectionReconnecting)
}

// try sends v as JSON to subject and decodes the reply into out. It repeats
// a retryable failure until within passes, so it is only for requests that
// are safe to repeat: reads, stock.set, gateway.set, and creates that carry
// an Idempotency-Key (in headers, as key, value pairs).
func (f *flow) try(within time.Duration, subject string, v, out any, headers ...string) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(within)
	for {
		err = f.once(subject, body, out, headers...)
		if err == nil || !retryable(err) || time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("%s: %w", subject, err)
			}
			return nil
		}
		f.retries.Add(1)
		time.Sleep(100 * time.Millisecond)
	}
}

func (f *flow) once(subject string, body []byte, out any, headers ...string) error {
	msg := nats.NewMsg(subject)
	msg.Data = body
	for i := 0; i+1 < len(headers); i += 2 {
		msg.Header.Set(headers[i], headers[i+1])
	}
	m, err := f.nc.RequestMsg(msg, 2*time.Second)
	if err != nil {
		return err
	}
	if c := m.Header.Get(micro.ErrorCodeHeader); c != "" {
		code, _ := strconv.Atoi(c)
		return &serviceError{code: code, desc: m.Header.Get(micro.ErrorHeader)}
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(m.Data, out); err != nil {
		return fmt.Errorf("reply %q: %w", m.Data, err)
	}
	return nil
}

// call is try that fails the test.
func (f *flow) call(subject string, v, out any) {
	f.t.Helper()
	if err := f.try(30*time.Second, subject, v, out); err != nil {
		f.t.Fatal(err)
	}
}

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

// order reads an order through orders.get.
func (f *flow) order(id string) contracts.OrderView {
	f.t.Helper()
	var v contracts.OrderView
	f.call(contracts.SubjectOrdersGet, contracts.GetOrderRequest{OrderID: id}, &v)
	return v
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
		var stuck []string
		for _, id := range ids {
			if v, ok := views[id]; ok && final(v) {
				continue
			}
			v := f.order(id)
			views[id] = v
			if !final(v) {
				stuck = append(stuck, id)
			}
		}
		if len(stuck) == 0 {
			return views
		}
		if time.Now().After(deadline) {
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
		time.Sleep(200 * time.Millisecond)
	}
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

// busy names the durable consumers of the flow's streams with work left.
func (f *flow) busy() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out []string
	for _, stream := range []string{contracts.StreamOrders, contracts.StreamInventory, contracts.StreamPayments} {
		st, err := f.js.Stream(ctx, stream)
		if err != nil {
			out = append(out, stream+": "+err.Error())
			continue
		}
		for info := range st.ListConsumers(ctx).Info() {
			if info.NumPending > 0 || info.NumAckPending > 0 || info.NumRedelivered > 0 {
				out = append(out, fmt.Sprintf("%s: %d pending, %d unacked, %d redelivered",
					info.Name, info.NumPending, info.NumAckPending, info.NumRedelivered))
			}
		}
	}
	if len(out) == 0 {
		return "none has work left"
	}
	return strings.Join(out, "; ")
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
