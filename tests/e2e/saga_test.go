package e2e

import (
	"testing"
	"time"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime/fntest"
)

func TestHappyPathConfirmed(t *testing.T) {
	f := startFlow(t)
	f.setStock("sku-a", 10, 1250)
	f.setStock("sku-b", 5, 300)
	id := f.place("c-1", item("sku-a", 2), item("sku-b", 1))
	v := f.settle(id, 15*time.Second)
	if v.Status != contracts.StatusConfirmed || v.PaymentID == "" || v.TotalCents != 2*1250+300 {
		t.Fatalf("order %+v", v)
	}
	if f.stock("sku-a") != 8 || f.stock("sku-b") != 4 {
		t.Fatalf("stock left: %d, %d", f.stock("sku-a"), f.stock("sku-b"))
	}
	events := map[string]bool{}
	for _, e := range v.Timeline {
		events[e.Event] = true
	}
	for _, want := range []string{"orders.created", "inventory.reserved", "payments.completed"} {
		if !events[want] {
			t.Errorf("timeline lacks %s: %+v", want, v.Timeline)
		}
	}
	if f.charges()[id] != 1 {
		t.Fatalf("charged %d times", f.charges()[id])
	}
}

func TestOutOfStockCancelledAndStockUntouched(t *testing.T) {
	f := startFlow(t)
	f.setStock("sku-a", 10, 100)
	f.setStock("sku-low", 1, 100)
	id := f.place("c-1", item("sku-a", 3), item("sku-low", 2))
	v := f.settle(id, 15*time.Second)
	if v.Status != contracts.StatusCancelled || v.Reason != contracts.ReasonOutOfStock {
		t.Fatalf("order %+v", v)
	}
	if f.stock("sku-a") != 10 || f.stock("sku-low") != 1 {
		t.Fatalf("stock touched: %d, %d", f.stock("sku-a"), f.stock("sku-low"))
	}
	if len(f.charges()) != 0 {
		t.Fatalf("charges %v", f.charges())
	}
}

func TestDeclinedPaymentCancelledAndStockRestored(t *testing.T) {
	f := startFlow(t)
	f.setStock("sku-a", 10, 100)
	f.gateway(contracts.GatewayDecline)
	id := f.place("c-1", item("sku-a", 4))
	v := f.settle(id, 15*time.Second)
	if v.Status != contracts.StatusCancelled || v.Reason != contracts.ReasonPaymentDeclined {
		t.Fatalf("order %+v", v)
	}
	deadline := time.Now().Add(10 * time.Second)
	for f.stock("sku-a") != 10 {
		if time.Now().After(deadline) {
			t.Fatalf("stock not restored: %d", f.stock("sku-a"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The stock is put back before inventory.released is emitted.
	for n := f.count(contracts.StreamInventory, contracts.SubjectInventoryReleased); n != 1; n = f.count(contracts.StreamInventory, contracts.SubjectInventoryReleased) {
		if n > 1 || time.Now().After(deadline) {
			t.Fatalf("%d inventory.released events", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestCustomerCancel cancels while the payment cannot go through (gateway
// outage): the order is cancelled, the stock comes back, and once the
// gateway recovers the order is still not charged.
func TestCustomerCancel(t *testing.T) {
	f := startFlow(t)
	f.setStock("sku-a", 10, 100)
	f.gateway(contracts.GatewayOutage)
	id := f.place("c-1", item("sku-a", 3))
	var c contracts.CancelOrderReply
	f.call(contracts.SubjectOrdersCancel, contracts.CancelOrderRequest{OrderID: id}, &c)
	if c.Status != contracts.StatusCancelled || c.Reason != contracts.ReasonCancelledByCustomer {
		t.Fatalf("cancel replied %+v", c)
	}
	deadline := time.Now().Add(10 * time.Second)
	for f.stock("sku-a") != 10 {
		if time.Now().After(deadline) {
			t.Fatalf("stock not released: %d", f.stock("sku-a"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.gateway(contracts.GatewayOK)
	// A later order goes through, so payments has caught up with the first.
	id2 := f.place("c-2", item("sku-a", 1))
	if v := f.settle(id2, 20*time.Second); v.Status != contracts.StatusConfirmed {
		t.Fatalf("second order %+v", v)
	}
	if v := f.order(id); v.Status != contracts.StatusCancelled || v.Reason != contracts.ReasonCancelledByCustomer {
		t.Fatalf("cancelled order became %+v", v)
	}
	if n := f.charges()[id]; n != 0 {
		t.Fatalf("cancelled order charged %d times", n)
	}
	// Cancelling a confirmed order is a conflict.
	body := []byte(`{"order_id":"` + id2 + `"}`)
	if r := f.request(contracts.SubjectOrdersCancel, body); r.code != 409 {
		t.Fatalf("cancel confirmed: %d %s", r.code, r.desc)
	}
}

// TestCancelWhileChargingRefunds: the customer cancels while the gateway
// is charging the order (a slow gateway). The charge goes through, the
// cancel wins: the order stays cancelled, its stock comes back, and its
// payment is refunded once (payments.refunded, in the order's timeline).
func TestCancelWhileChargingRefunds(t *testing.T) {
	f := startFlow(t)
	f.setStock("sku-a", 10, 100)
	id := f.placeAndCancelWhileCharging("c-1", item("sku-a", 3))
	v := f.order(id)
	if v.Status != contracts.StatusCancelled || v.Reason != contracts.ReasonCancelledByCustomer || v.PaymentID != "" {
		t.Fatalf("order %+v", v)
	}
	fntest.Eventually(t, 10*time.Second, "the stock back", func() bool { return f.stock("sku-a") == 10 })
	if f.charges()[id] != 1 || f.refunds()[id] != 1 {
		t.Fatalf("charged %d times, refunded %d times; want once each", f.charges()[id], f.refunds()[id])
	}
	if n := f.count(contracts.StreamOrders, contracts.SubjectOrdersConfirmed); n != 0 {
		t.Fatalf("%d orders.confirmed", n)
	}
}

// TestGatewayOutage: during an outage the breaker opens and orders wait;
// after recovery every one of them is confirmed, none failed.
func TestGatewayOutage(t *testing.T) {
	f := startFlow(t)
	f.setStock("sku-a", 100, 100)
	f.gateway(contracts.GatewayOutage)
	var ids []string
	for i := range 10 {
		ids = append(ids, f.place("c-"+string(rune('a'+i)), item("sku-a", 1)))
	}
	// While the gateway is down nothing completes or fails.
	time.Sleep(3 * time.Second)
	if n := f.count(contracts.StreamPayments, contracts.SubjectPaymentsCompleted) + f.count(contracts.StreamPayments, contracts.SubjectPaymentsFailed); n != 0 {
		t.Fatalf("%d payment outcomes during the outage", n)
	}
	f.gateway(contracts.GatewayOK)
	for _, id := range ids {
		if v := f.settle(id, 60*time.Second); v.Status != contracts.StatusConfirmed {
			t.Fatalf("order %s after recovery: %+v", id, v)
		}
	}
	for _, id := range ids {
		if f.charges()[id] != 1 {
			t.Fatalf("order %s charged %d times", id, f.charges()[id])
		}
	}
}
