package orders_test

import (
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/functions/orders"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// Orders comes up before inventory and payments: it waits for their
// streams and for the stock bucket instead of failing, and serves once
// they appear.
func TestStartsBeforeInventory(t *testing.T) {
	t.Parallel()
	srv := fntest.NewServer(t)
	h := &harness{t: t, srv: srv, nc: srv.Connect(t), js: srv.JetStream(t)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		// Once orders has created its own stream, it is starting: only
		// then do the others appear.
		for {
			if _, err := h.js.Stream(t.Context(), contracts.StreamOrders); err == nil {
				break
			}
			select {
			case <-t.Context().Done():
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
		for _, def := range contracts.Streams() {
			if def.Name != contracts.StreamOrders {
				if _, err := h.js.CreateStream(t.Context(), jetstream.StreamConfig{Name: def.Name, Subjects: def.Subjects}); err != nil {
					t.Errorf("stream %s: %v", def.Name, err)
				}
			}
		}
	}()
	// StockWait also bounds the create after the bucket appears (opening
	// it and the first read): 100 ms was too short for that on a loaded
	// CI machine (load average 23: the read's deadline passed).
	h.run(orders.Config{StockWait: 1500 * time.Millisecond})
	<-done

	// No stock bucket yet: a create is unavailable, not stuck.
	msg, code := h.requestJSON(contracts.SubjectOrdersCreate, order(item("sku-1", 1)), withKey("early"))
	if code != 503 || !strings.Contains(string(msg.Data), "stock") {
		t.Fatalf("code %d: %s", code, msg.Data)
	}
	if n := h.keys(contracts.BucketIdempotency); n != 0 {
		t.Errorf("%d idempotency claims stored", n)
	}

	h.createStock()
	id := h.create(order(item("sku-1", 1)), withKey("early")).OrderID
	h.publish(contracts.InventoryReserved, reserved(id, 1))
	h.waitStatus(id, contracts.StatusReserved)
}
