package console

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime/fntest"
)

type httpReply struct {
	status int
	body   []byte
}

// do sends a request; header holds extra header names and values, in
// pairs.
func (s *setup) do(method, path, contentType, body string, header ...string) httpReply {
	s.t.Helper()
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return httpReply{status: resp.StatusCode, body: b}
}

// postKeyed posts JSON with an Idempotency-Key, as the page places orders.
func (s *setup) postKeyed(path, key, body string) httpReply {
	return s.do(http.MethodPost, path, "application/json", body, "Idempotency-Key", key)
}

func (s *setup) get(path string) httpReply { return s.do(http.MethodGet, path, "", "") }

func (s *setup) post(path, body string) httpReply {
	return s.do(http.MethodPost, path, "application/json", body)
}

// want fails unless the reply has the status, and decodes it.
func want[T any](t testing.TB, r httpReply, status int) T {
	t.Helper()
	var v T
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if err := json.Unmarshal(r.body, &v); err != nil {
		t.Fatalf("%s: %v", r.body, err)
	}
	return v
}

// sse is a test's reader of an order's event stream.
type sse struct {
	events chan sseEvent
	cancel context.CancelFunc
}

type sseEvent struct {
	name, id string
	data     []byte
}

// stream opens an order's event stream; lastID, if given, is the
// Last-Event-ID a reconnecting browser sends.
func (s *setup) stream(orderID string, lastID ...int64) *sse {
	s.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"api/orders/"+orderID+"/events", nil)
	for _, id := range lastID {
		req.Header.Set("Last-Event-ID", fmt.Sprint(id))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		s.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || ct != "text/event-stream" {
		cancel()
		s.t.Fatalf("events: %d %s", resp.StatusCode, ct)
	}
	out := &sse{events: make(chan sseEvent, 100), cancel: cancel}
	go func() {
		defer resp.Body.Close()
		defer close(out.events)
		sc := bufio.NewScanner(resp.Body)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.name != "" {
					out.events <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "id: "):
				ev.id = strings.TrimPrefix(line, "id: ")
			case strings.HasPrefix(line, "data: "):
				ev.data = []byte(strings.TrimPrefix(line, "data: "))
			}
		}
	}()
	s.t.Cleanup(cancel)
	return out
}

// orderEvents reads the stream's order events until one on last arrives.
func (e *sse) orderEvents(t testing.TB, last string, within time.Duration) []event {
	t.Helper()
	var got []event
	timeout := time.After(within)
	for {
		select {
		case ev, ok := <-e.events:
			if !ok {
				t.Fatalf("the stream ended before %s; got %+v", last, got)
			}
			if ev.name != "order" {
				continue
			}
			var x event
			if err := json.Unmarshal(ev.data, &x); err != nil {
				t.Fatalf("%s: %v", ev.data, err)
			}
			if ev.id != fmt.Sprint(x.Seq) {
				t.Fatalf("SSE id %q is not the event's seq %d", ev.id, x.Seq)
			}
			got = append(got, x)
			if x.Subject == last {
				return got
			}
		case <-timeout:
			t.Fatalf("no %s within %s; got %+v", last, within, got)
		}
	}
}

func subjects(evs []event) []string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Subject)
	}
	return s
}

// settled polls the console's view of an order until it is final and
// has a step on event.
func (s *setup) settled(id, event string) orderWatch {
	s.t.Helper()
	var w orderWatch
	fntest.Eventually(s.t, 15*time.Second, "order "+id+" settled with "+event, func() bool {
		w = want[orderWatch](s.t, s.get("api/orders/"+id), http.StatusOK)
		final := w.Order.Status == contracts.StatusConfirmed || w.Order.Status == contracts.StatusCancelled
		return final && slices.ContainsFunc(w.Timeline, func(st step) bool { return st.Event == event && st.Seen })
	})
	return w
}

var hex32 = regexp.MustCompile(`^[0-9a-f]{32}$`)

// TestAPI drives the console's HTTP API as the page does: what runs, an
// order confirmed, a declined one compensated, a dead letter replayed, and
// every kind of bad input answered with its status and reason.
func TestAPI(t *testing.T) {
	s := start(t)
	s.probeRefusal()

	sys := want[snapshot](t, s.get("api/system"), http.StatusOK)
	var names []string
	for _, fn := range sys.Functions {
		names = append(names, fn.Name)
		if len(fn.Instances) != 1 || fn.Instances[0].Problem != "" || fn.Instances[0].Started.IsZero() {
			t.Fatalf("%s: instances %+v", fn.Name, fn.Instances)
		}
	}
	if !slices.Equal(names, []string{"inventory", "orders", "payments"}) {
		t.Fatalf("functions %v", names)
	}
	if !slices.Contains(sys.Topology.Edges, edge{Function: "inventory", Handler: "reserve", Subject: "orders.created", From: fromMetadata}) {
		t.Fatalf("inventory's reserve does not consume orders.created: %+v", sys.Topology.Edges)
	}
	// 9 events, and the major 2 of the four whose money changed (the
	// producers declare both majors for NATSFN_PHASES).
	if len(sys.Topology.Subjects) != 13 || len(sys.DeadLetters) != 3 {
		t.Fatalf("subjects %v, dead letters of %d functions", sys.Topology.Subjects, len(sys.DeadLetters))
	}

	t.Run("bad input", func(t *testing.T) {
		for _, c := range []struct {
			name, method, path, ctype, body string
			status                          int
			says                            string
		}{
			{"not JSON content", "POST", "api/orders", "text/plain", `{}`, 415, "application/json"},
			{"not JSON", "POST", "api/orders", "application/json", `{`, 400, "not JSON"},
			{"schema", "POST", "api/orders", "application/json", `{"customer_id":"c-1","items":[{"product_id":"sku-1","quantity":0}]}`, 400, "must be >= 1"},
			{"unknown product", "POST", "api/orders", "application/json", `{"customer_id":"c-1","items":[{"product_id":"sku-404","quantity":1}]}`, 404, "sku-404"},
			{"unknown order", "GET", "api/orders/no-such-order", "", "", 404, "orders.get"},
			{"order id", "GET", "api/orders/a..b", "", "", 400, "not an order id"},
			{"gateway mode", "POST", "api/gateway", "application/json", `{"mode":"sometimes"}`, 400, "payments.gateway.set"},
			{"function name", "POST", "api/deadletters/orders.x/replay", "application/json", `{"seq":1}`, 400, "not a function name"},
			{"no seq", "POST", "api/deadletters/inventory/replay", "application/json", `{}`, 400, "seq"},
			{"unknown dead letter", "POST", "api/deadletters/inventory/replay", "application/json", `{"seq":999999}`, 404, "inventory.dlq.replay"},
			{"too large", "POST", "api/orders", "application/json", `"` + strings.Repeat("x", maxBody) + `"`, 413, "over"},
		} {
			t.Run(c.name, func(t *testing.T) {
				e := want[apiError](t, s.do(c.method, c.path, c.ctype, c.body), c.status)
				if !strings.Contains(e.Error(), c.says) {
					t.Fatalf("error %q does not say %q", e.Error(), c.says)
				}
			})
		}
	})

	t.Run("confirmed", func(t *testing.T) {
		p := want[placedReply](t, s.post("api/orders", `{"customer_id":"c-1","items":[{"product_id":"sku-1","quantity":2}]}`), http.StatusOK)
		if p.Status != contracts.StatusPending || !hex32.MatchString(p.TraceID) || p.CorrelationID == "" {
			t.Fatalf("placed %+v", p)
		}
		// The stream starts after orders.created passed: the console
		// replays what it saw, then pushes the rest as it happens.
		evs := s.stream(p.OrderID).orderEvents(t, contracts.SubjectOrdersConfirmed, 15*time.Second)
		if got := subjects(evs); !slices.Equal(got, []string{"orders.created", "inventory.reserved", "payments.completed", "orders.confirmed"}) {
			t.Fatalf("events %v", got)
		}
		for _, ev := range evs {
			if ev.TraceID != p.TraceID || ev.CorrelationID != p.CorrelationID || ev.OrderID != p.OrderID || ev.Source == "" {
				t.Fatalf("event %+v does not carry the order's trace %s and correlation %s", ev, p.TraceID, p.CorrelationID)
			}
		}
		// A browser that reconnects gets what it missed, nothing twice.
		again := s.stream(p.OrderID, evs[1].Seq).orderEvents(t, contracts.SubjectOrdersConfirmed, 5*time.Second)
		if got := subjects(again); !slices.Equal(got, []string{"payments.completed", "orders.confirmed"}) {
			t.Fatalf("after Last-Event-ID %d: %v", evs[1].Seq, got)
		}
		w := s.settled(p.OrderID, contracts.SubjectOrdersConfirmed)
		if w.Order.Status != contracts.StatusConfirmed || w.TraceID != p.TraceID || len(w.Stock) != 1 || w.Stock[0].Quantity != 98 {
			t.Fatalf("watch %+v", w)
		}
		if s.stock("sku-1") != 98 {
			t.Fatal("stock of sku-1 is not 98")
		}
	})

	t.Run("declined", func(t *testing.T) {
		g := want[contracts.GatewayReply](t, s.post("api/gateway", `{"mode":"decline"}`), http.StatusOK)
		if g.Mode != contracts.GatewayDecline {
			t.Fatalf("gateway %+v", g)
		}
		before := s.stock("sku-2")
		p := want[placedReply](t, s.post("api/orders", `{"customer_id":"c-3","items":[{"product_id":"sku-2","quantity":1}]}`), http.StatusOK)
		w := s.settled(p.OrderID, contracts.SubjectInventoryReleased)
		if w.Order.Status != contracts.StatusCancelled || w.Order.Reason != contracts.ReasonPaymentDeclined {
			t.Fatalf("order %+v", w.Order)
		}
		for _, e := range []string{"orders.created", "inventory.reserved", "payments.failed", "inventory.released"} {
			if !slices.ContainsFunc(w.Timeline, func(st step) bool { return st.Event == e && st.Seen }) {
				t.Fatalf("no %s in the timeline %+v", e, w.Timeline)
			}
		}
		// inventory.released is not in orders' own timeline: the console
		// adds what it saw.
		i := slices.IndexFunc(w.Timeline, func(st step) bool { return st.Event == "inventory.released" })
		if w.Timeline[i].Recorded || w.Timeline[i].Source != "inventory" {
			t.Fatalf("released step %+v", w.Timeline[i])
		}
		if w.Stock[0].Quantity != before || s.stock("sku-2") != before {
			t.Fatalf("stock %+v, want %d back", w.Stock, before)
		}
		if g := want[contracts.GatewayReply](t, s.post("api/gateway", `{"mode":"ok"}`), http.StatusOK); g.Mode != contracts.GatewayOK {
			t.Fatalf("gateway %+v", g)
		}
	})

	t.Run("dead letter replayed", func(t *testing.T) {
		s.deadLetter("broken-1")
		var first deadLetter
		fntest.Eventually(t, 10*time.Second, "a dead letter of inventory", func() bool {
			d := want[deadLetterList](t, s.get("api/deadletters/inventory"), http.StatusOK)
			if len(d.Entries) == 0 {
				return false
			}
			first = d.Entries[0]
			return true
		})
		if first.Handler != "reserve" || first.Subject != "orders.created" || first.Reason == "" || first.Seq == 0 {
			t.Fatalf("dead letter %+v", first)
		}
		r := want[replayed](t, s.post("api/deadletters/inventory/replay", fmt.Sprintf(`{"seq":%d}`, first.Seq)), http.StatusOK)
		if !slices.Equal(r.Replayed, []uint64{first.Seq}) || r.Function != "inventory" {
			t.Fatalf("replayed %+v", r)
		}
		// Replayed again (a page whose first answer was lost sends it
		// again): the entry is gone, 404, which the page reads as done.
		if e := want[apiError](t, s.post("api/deadletters/inventory/replay", fmt.Sprintf(`{"seq":%d}`, first.Seq)), http.StatusNotFound); !strings.Contains(e.Message, "dead letter") {
			t.Fatalf("replayed twice: %+v", e)
		}
		// Still broken, so it comes back, but as a new entry: the one
		// replayed is gone.
		fntest.Eventually(t, 10*time.Second, "the replayed message dead-lettered again", func() bool {
			d := want[deadLetterList](t, s.get("api/deadletters/inventory"), http.StatusOK)
			return len(d.Entries) == 1 && d.Entries[0].Seq > first.Seq
		})
		sys := want[snapshot](t, s.get("api/system"), http.StatusOK)
		f := figuresOfEndpoint(t, sys, "inventory", "reserve")
		if f.DeadLettered < 2 || f.Terminated < 2 || f.Requests < 4 || f.Errors < 2 {
			t.Fatalf("inventory reserve figures %+v", f)
		}
		if f := figuresOfEndpoint(t, sys, "orders", "create"); f.Requests < 4 || f.Errors < 2 {
			t.Fatalf("orders create figures %+v", f)
		}
		if f := figuresOfEndpoint(t, sys, "inventory", "dlq-replay"); f.Requests < 2 || f.Errors < 1 {
			t.Fatalf("inventory dlq-replay figures %+v", f)
		}
		// Every function declares what it emits (runtime.Emits): the
		// emissions come from that metadata, not from what was seen or from
		// the streams.
		if !slices.Contains(sys.Topology.Edges, edge{Function: "payments", Handler: "charge", Subject: "payments.failed", Emits: true, From: fromMetadata}) {
			t.Fatalf("payments.failed not declared by charge: %+v", sys.Topology.Edges)
		}
		if !slices.Contains(sys.Topology.Edges, edge{Function: "orders", Handler: "payment-completed", Subject: "orders.confirmed", Emits: true, From: fromMetadata}) {
			t.Fatalf("orders.confirmed not declared by payment-completed: %+v", sys.Topology.Edges)
		}
		for _, e := range sys.Topology.Edges {
			if e.Emits && e.From != fromMetadata {
				t.Fatalf("emission %+v not from the declarations", e)
			}
		}
	})

	// The page sends each order with an Idempotency-Key and sends it again
	// when its answer is lost: the same order comes back, with the trace its
	// events carry, and the stock is taken once.
	t.Run("placed once per key", func(t *testing.T) {
		before := s.stock("sku-3")
		order := `{"customer_id":"c-key","items":[{"product_id":"sku-3","quantity":1}]}`
		first := want[placedReply](t, s.postKeyed("api/orders", "k-0123456789abcdef", order), http.StatusOK)
		again := want[placedReply](t, s.postKeyed("api/orders", "k-0123456789abcdef", order), http.StatusOK)
		if again.OrderID != first.OrderID || again.TraceID != first.TraceID || !hex32.MatchString(first.TraceID) {
			t.Fatalf("placed %+v, then %+v: not the same order and trace", first, again)
		}
		w := s.settled(first.OrderID, contracts.SubjectOrdersConfirmed)
		if w.TraceID != first.TraceID {
			t.Fatalf("the order's events carry trace %s, the placement said %s", w.TraceID, first.TraceID)
		}
		if got := s.stock("sku-3"); got != before-1 {
			t.Fatalf("stock of sku-3 %d, want %d: the order was placed more than once", got, before-1)
		}
		other := want[placedReply](t, s.postKeyed("api/orders", "k-other", order), http.StatusOK)
		if other.OrderID == first.OrderID || other.TraceID == first.TraceID {
			t.Fatalf("another key placed %+v, the same as %+v", other, first)
		}
		s.settled(other.OrderID, contracts.SubjectOrdersConfirmed)
		if e := want[apiError](t, s.postKeyed("api/orders", "k-0123456789abcdef", `{"customer_id":"c-key","items":[{"product_id":"sku-3","quantity":2}]}`), http.StatusConflict); !strings.Contains(e.Message, "Idempotency-Key") {
			t.Fatalf("the key with another order: %+v", e)
		}
		for _, bad := range []string{"has space", strings.Repeat("k", maxIdempotencyKey+1), "caf\u00e9"} {
			if e := want[apiError](t, s.postKeyed("api/orders", bad, order), http.StatusBadRequest); !strings.Contains(e.Message, "Idempotency-Key") {
				t.Fatalf("key %q: %+v", bad, e)
			}
		}
	})

	s.noneRefused()
}

func figuresOfEndpoint(t testing.TB, sys snapshot, fn, name string) tally {
	t.Helper()
	for _, f := range sys.Functions {
		for _, e := range f.Endpoints {
			if f.Name == fn && e.Name == name {
				return e.Figures
			}
		}
	}
	t.Fatalf("no endpoint %s of %s", name, fn)
	return tally{}
}

// TestAPINATSDown: with the NATS server gone, every call answers 503 at
// once, saying the console is not connected, and the page itself still
// renders, with the error in it.
func TestAPINATSDown(t *testing.T) {
	s := start(t)
	evs := s.stream("some-order")
	s.srv.Shutdown()
	fntest.Eventually(t, 20*time.Second, "the console's connection to notice", func() bool { return !s.nc.IsConnected() })
	for _, path := range []string{"api/system", "api/gateway", "api/orders/o-1", "view/system"} {
		e := want[apiError](t, s.get(path), http.StatusServiceUnavailable)
		if !strings.Contains(e.Message, "not connected to NATS") {
			t.Fatalf("%s: %q", path, e.Message)
		}
	}
	e := want[apiError](t, s.post("api/orders", `{"customer_id":"c-1","items":[{"product_id":"sku-1","quantity":1}]}`), http.StatusServiceUnavailable)
	if !strings.Contains(e.Message, "not connected to NATS") {
		t.Fatalf("place: %q", e.Message)
	}
	page := s.get("")
	if page.status != http.StatusOK || !strings.Contains(string(page.body), "not connected to NATS") {
		t.Fatalf("page %d:\n%s", page.status, page.body)
	}
	// The open stream says so too.
	timeout := time.After(5 * time.Second)
	for {
		select {
		case ev := <-evs.events:
			if ev.name == "nats" && strings.Contains(string(ev.data), "not connected to NATS") {
				return
			}
		case <-timeout:
			t.Fatal("the event stream did not say NATS is down")
		}
	}
}

// TestAPINoFunctions: on a NATS where nothing runs, what runs is nothing,
// and a request says which function is missing.
func TestAPINoFunctions(t *testing.T) {
	srv := fntest.NewServer(t)
	nc, err := nats.Connect(srv.ClientURL(), nats.CustomInboxPrefix(InboxPrefix))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c, err := New(nc, Config{Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ts := httptest.NewServer(c)
	defer ts.Close()
	s := &setup{t: t, URL: ts.URL + "/"}
	sys := want[snapshot](t, s.get("api/system"), http.StatusOK)
	if len(sys.Functions) != 0 || len(sys.Topology.Edges) != 0 {
		t.Fatalf("system %+v", sys)
	}
	e := want[apiError](t, s.get("api/gateway"), http.StatusServiceUnavailable)
	if e.Subject != "payments.gateway.get" || !strings.Contains(e.Message, "is the payments function running?") {
		t.Fatalf("gateway: %+v", e)
	}
	if page := s.get(""); page.status != http.StatusOK || !strings.Contains(string(page.body), "No micro service answers") {
		t.Fatalf("page %d:\n%s", page.status, page.body)
	}
}
