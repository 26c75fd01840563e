package console

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func msg(subject, data string, hdr ...string) *nats.Msg {
	m := &nats.Msg{Subject: subject, Data: []byte(data), Header: nats.Header{}}
	for i := 0; i+1 < len(hdr); i += 2 {
		m.Header[hdr[i]] = []string{hdr[i+1]}
	}
	return m
}

func TestEventOf(t *testing.T) {
	tp := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	ev := eventOf(msg("payments.failed", `{"order_id":"o-1","reason":"declined","amount_cents":4999}`,
		"traceparent", tp, "X-Correlation-ID", "c-9", "ce-source", "payments"), time.Now())
	if ev.OrderID != "o-1" || ev.TraceID != "0af7651916cd43dd8448eb211c80319c" || ev.SpanID != "b7ad6b7169203331" ||
		ev.CorrelationID != "c-9" || ev.Source != "payments" || ev.Summary != "payment failed: declined, 49.99 not charged" {
		t.Fatalf("%+v", ev)
	}
	// The server may hand a header over in another case.
	if ev := eventOf(msg("orders.created", `{"order_id":"o-2"}`, "Traceparent", tp), time.Now()); ev.TraceID == "" {
		t.Fatal("Traceparent not read")
	}
	for _, c := range []struct{ data, summary string }{
		{`{"order_id":`, "malformed: not valid JSON"},
		{`[1]`, "malformed: json: cannot unmarshal array into Go value of type console.payload"},
	} {
		ev := eventOf(msg("orders.created", c.data), time.Now())
		if ev.OrderID != "" || ev.Summary != c.summary {
			t.Fatalf("%s: %+v", c.data, ev)
		}
		if c.summary == "malformed: not valid JSON" && ev.Data != nil {
			t.Fatalf("invalid JSON kept as data: %s", ev.Data)
		}
	}
}

// TestHub: a page that starts watching gets what passed, then what comes;
// one that falls behind is dropped (its browser reconnects and catches
// up); the oldest orders are forgotten.
func TestHub(t *testing.T) {
	h := newHub()
	h.receive(msg("orders.created", `{"order_id":"o-1"}`, "ce-source", "orders"))
	past, w := h.watch("o-1")
	if len(past) != 1 || past[0].Seq != 1 {
		t.Fatalf("past %+v", past)
	}
	h.receive(msg("inventory.reserved", `{"order_id":"o-1"}`, "ce-source", "inventory"))
	h.receive(msg("inventory.reserved", `{"order_id":"o-2"}`))
	if ev := <-w.ch; ev.Subject != "inventory.reserved" || ev.Seq != 2 {
		t.Fatalf("%+v", ev)
	}
	select {
	case ev := <-w.ch:
		t.Fatalf("got another order's event %+v", ev)
	default:
	}
	if got := h.observedEmitters(); len(got) != 2 || got["inventory.reserved"][0] != "inventory" {
		t.Fatalf("emitters %v", got)
	}

	for i := range watcherBuffer + 1 {
		h.receive(msg("orders.created", fmt.Sprintf(`{"order_id":"o-1","n":%d}`, i)))
	}
	n := 0
	for range w.ch {
		n++
	}
	if n != watcherBuffer {
		t.Fatalf("a slow watcher got %d events before it was dropped, want %d", n, watcherBuffer)
	}
	h.unwatch("o-1", w) // already dropped: no double close
	if got := len(h.events("o-1")); got != maxEventsPerOrder {
		t.Fatalf("o-1 keeps %d events, want %d", got, maxEventsPerOrder)
	}

	h.place("o-1", placed{traceID: "t"})
	for i := range maxOrders {
		h.receive(msg("orders.created", fmt.Sprintf(`{"order_id":"x-%d"}`, i)))
	}
	if h.events("o-1") != nil || h.events("x-0") == nil {
		t.Fatal("the oldest order was not the one forgotten")
	}
	if _, ok := h.placedOrder("o-1"); ok {
		t.Fatal("a forgotten order's trace is still kept")
	}

	_, w2 := h.watch("x-1")
	h.closeAll()
	if _, ok := <-w2.ch; ok {
		t.Fatal("closeAll left a watcher open")
	}
}
