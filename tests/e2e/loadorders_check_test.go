package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime/fntest"
)

func confirmedMsg(id string) *nats.Msg {
	return &nats.Msg{Subject: contracts.SubjectOrdersConfirmed, Data: fmt.Appendf(nil, `{"order_id":%q,"payment_id":"p","total_cents":100}`, id)}
}

// TestTracker: a confirmation before the create reply, and one seen
// twice, each count once; the run is done only when placing is over and
// every order is confirmed.
func TestTracker(t *testing.T) {
	tr := newTracker()
	tr.begin()
	tr.onConfirmed(confirmedMsg("o-2")) // before its reply
	tr.placed("o-1", orderSample{})
	tr.placed("o-2", orderSample{})
	time.Sleep(5 * time.Millisecond) // o-1's confirmation comes after o-2's
	tr.onConfirmed(confirmedMsg("o-1"))
	tr.onConfirmed(confirmedMsg("o-1")) // a redelivered handler's second publish
	tr.onConfirmed(confirmedMsg("o-9")) // not this run's
	select {
	case <-tr.done:
		t.Fatal("done while still placing")
	default:
	}
	tr.stopPlacing()
	select {
	case <-tr.done:
	case <-time.After(time.Second):
		t.Fatal("not done with every order confirmed and placing over")
	}
	samples, err := tr.result()
	if err != nil || len(samples) != 2 {
		t.Fatalf("result: %v, %v; want two samples", samples, err)
	}
	if tr.confirmedCount() != 2 {
		t.Errorf("%d confirmed, want 2", tr.confirmedCount())
	}
	o1, o2 := samples[0], samples[1]
	if o1.latency() < 5*time.Millisecond || o2.Confirmed <= 0 || o2.Confirmed >= o1.Confirmed {
		t.Errorf("o-1 %+v, o-2 %+v: want o-1 confirmed 5 ms or more after o-2", o1, o2)
	}
}

func TestTrackerWaitsForLastConfirmation(t *testing.T) {
	tr := newTracker()
	tr.begin()
	tr.placed("o-1", orderSample{})
	tr.stopPlacing()
	select {
	case <-tr.done:
		t.Fatal("done with an order unconfirmed")
	case <-time.After(20 * time.Millisecond):
	}
	tr.onConfirmed(confirmedMsg("o-1"))
	<-tr.done
}

func TestTrackerFailsOnCancellation(t *testing.T) {
	tr := newTracker()
	tr.begin()
	tr.placed("o-1", orderSample{})
	tr.onCancelled(&nats.Msg{Data: []byte(`{"order_id":"o-1","reason":"out_of_stock"}`)})
	<-tr.done
	if _, err := tr.result(); err == nil || !strings.Contains(err.Error(), "o-1 cancelled: out_of_stock") {
		t.Fatalf("result error %v, want the cancelled order and its reason", err)
	}
}

// TestPlaceOrders runs the load generator on the real flow, briefly, at a
// fixed rate and at full speed: one sample per order, and as many
// orders.confirmed in the stream as samples.
func TestPlaceOrders(t *testing.T) {
	f := startFlow(t)
	f.stockLoadSKUs(1000)
	fixed, _, err := placeOrders(f, 0, 200, 40, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	full, _, err := placeOrders(f, 8, 0, 60, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if len(fixed) != 40 || len(full) != 60 {
		t.Fatalf("%d and %d samples, want 40 and 60", len(fixed), len(full))
	}
	for _, s := range append(fixed, full...) {
		if s.Sent <= 0 || s.latency() <= 0 || s.Late < 0 {
			t.Fatalf("sample %+v: want sent, then confirmed, and never early", s)
		}
	}
	// At 200/s, order i is due at i*5 ms: the last no sooner than 195 ms.
	var latest time.Duration
	for _, s := range fixed {
		latest = max(latest, s.Sent)
	}
	if latest < 195*time.Millisecond {
		t.Errorf("40 orders at 200/s all sent within %v, want the last at 195 ms or later", latest)
	}
	// The tracker hears the last orders.confirmed as the stream stores it:
	// the count may lag it by a moment (it read 99 once).
	fntest.Eventually(t, 20*time.Second, "100 orders.confirmed in the stream", func() bool {
		return f.count(contracts.StreamOrders, contracts.SubjectOrdersConfirmed) == 100
	})
	if got := f.count(contracts.StreamOrders, contracts.SubjectOrdersConfirmed); got != 100 {
		t.Fatalf("the stream holds %d orders.confirmed, want 100", got)
	}
}
