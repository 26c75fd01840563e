package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestOrderFlowMetrics: a confirmed order, a declined one and a bad
// request move the handler counters of orders.create (ok and 400),
// inventory's reserve and payments' charge, and payments reports its
// gateway calls and its breaker state.
func TestOrderFlowMetrics(t *testing.T) {
	m := fntest.NewMetrics()
	t.Cleanup(func() { _ = m.Shutdown(context.Background()) })
	f := startFlowConfig(t, func(cfg *runtime.Config) { cfg.MeterProvider = m })

	f.setStock("sku-a", 10, 1250)
	if v := f.settle(f.place("c-1", item("sku-a", 1)), 15*time.Second); v.Status != contracts.StatusConfirmed {
		t.Fatalf("first order %+v", v)
	}
	f.gateway(contracts.GatewayDecline)
	if v := f.settle(f.place("c-2", item("sku-a", 1)), 15*time.Second); v.Reason != contracts.ReasonPaymentDeclined {
		t.Fatalf("declined order %+v", v)
	}
	if r := f.request(contracts.SubjectOrdersCreate, []byte(`{"customer_id":"c-3","items":[]}`)); r.code != 400 {
		t.Fatalf("bad request: %d %s", r.code, r.desc)
	}

	// A handler's figures are recorded once it returns, which may be just
	// after the order reads settled.
	want := []struct {
		name            string
		labels          []string
		atLeast, atMost int64
	}{
		{"natsfn.handled", []string{"function", "orders", "handler", "create", "kind", "request", "outcome", "ok"}, 2, 2},
		{"natsfn.handled", []string{"function", "orders", "handler", "create", "kind", "request", "outcome", "error"}, 1, 1},
		{"natsfn.handler.errors", []string{"function", "orders", "handler", "create", "code", "400"}, 1, 1},
		{"natsfn.handler.duration", []string{"function", "orders", "handler", "create"}, 3, 3},
		{"natsfn.handled", []string{"function", "inventory", "handler", "reserve", "kind", "event", "outcome", "ok"}, 2, 1 << 30},
		{"natsfn.handled", []string{"function", "payments", "handler", "charge", "kind", "event", "outcome", "ok"}, 2, 1 << 30},
		{"natsfn.handled", []string{"function", "orders", "handler", "payment-completed", "outcome", "ok"}, 1, 1 << 30},
		{"natsfn.handled", []string{"function", "orders", "handler", "payment-failed", "outcome", "ok"}, 1, 1 << 30},
		{"payments.gateway.charges", []string{"function", "payments", "outcome", "charged"}, 1, 1},
		{"payments.gateway.charges", []string{"function", "payments", "outcome", "declined"}, 1, 1},
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var wrong []string
		for _, w := range want {
			if got, _ := m.Value(w.name, w.labels...); got < w.atLeast || got > w.atMost {
				wrong = append(wrong, fmt.Sprintf("%s%v = %d, want %d..%d", w.name, w.labels, got, w.atLeast, w.atMost))
			}
		}
		if len(wrong) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics after 10s:\n%s", strings.Join(wrong, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if v, ok := m.Value("payments.breaker.state", "function", "payments"); !ok || v != 0 {
		t.Fatalf("payments.breaker.state = %d (reported: %v), want 0 (closed)", v, ok)
	}
}
