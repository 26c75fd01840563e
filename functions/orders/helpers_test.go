package orders_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/functions/orders"
	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// harness runs the orders function on an in-process server and plays the
// other functions' part: it owns the INVENTORY and PAYMENTS streams and the
// stock bucket, and publishes their events itself.
type harness struct {
	t     *testing.T
	srv   *fntest.Server
	nc    *nats.Conn
	js    jetstream.JetStream
	stock jetstream.KeyValue
}

// stockRecord is a value of the stock bucket, as inventory stores it.
type stockRecord struct {
	Quantity   int   `json:"quantity"`
	PriceCents int64 `json:"price_cents"`
}

// start runs orders with the inventory/payments streams and a stock bucket
// holding sku-1 (250 cents) and sku-2 (1000 cents).
func start(t *testing.T) *harness {
	t.Helper()
	h := newHarness(t)
	h.createStock()
	h.run(orders.Config{})
	return h
}

// newHarness starts a server with the streams orders consumes.
func newHarness(t *testing.T) *harness {
	t.Helper()
	srv := fntest.NewServer(t)
	h := &harness{t: t, srv: srv, nc: srv.Connect(t), js: srv.JetStream(t)}
	for _, def := range contracts.Streams() {
		if def.Name == contracts.StreamOrders {
			continue
		}
		_, err := h.js.CreateStream(t.Context(), jetstream.StreamConfig{
			Name: def.Name, Subjects: def.Subjects, Duplicates: 2 * time.Minute,
		})
		if err != nil {
			t.Fatalf("stream %s: %v", def.Name, err)
		}
	}
	return h
}

// createStock creates and seeds the stock bucket, as inventory would.
func (h *harness) createStock() {
	h.t.Helper()
	kv, err := h.js.CreateKeyValue(h.t.Context(), jetstream.KeyValueConfig{Bucket: contracts.BucketStock})
	if err != nil {
		h.t.Fatalf("stock bucket: %v", err)
	}
	h.stock = kv
	for id, rec := range map[string]stockRecord{"sku-1": {10, 250}, "sku-2": {5, 1000}} {
		data, _ := json.Marshal(rec)
		if _, err := kv.Put(h.t.Context(), id, data); err != nil {
			h.t.Fatalf("seed %s: %v", id, err)
		}
	}
}

// run starts the orders function and waits until it is ready.
func (h *harness) run(cfg orders.Config) {
	h.t.Helper()
	fntest.Run(h.t, h.srv, orders.New(cfg))
}

// request sends a request and returns the reply and its error code (0
// when the reply is not an error).
func (h *harness) request(subject string, body []byte, hdr nats.Header) (*nats.Msg, int) {
	h.t.Helper()
	reply, code, err := h.try(subject, body, hdr)
	if err != nil {
		h.t.Fatal(err)
	}
	return reply, code
}

// try is request for goroutines other than the test's: it returns the
// error instead of failing the test.
func (h *harness) try(subject string, body []byte, hdr nats.Header) (*nats.Msg, int, error) {
	msg := &nats.Msg{Subject: subject, Data: body, Header: hdr}
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	reply, err := h.nc.RequestMsg(msg, 5*time.Second)
	if err != nil {
		return nil, 0, fmt.Errorf("request %s: %w", subject, err)
	}
	code := 0
	if c := reply.Header.Get("Nats-Service-Error-Code"); c != "" {
		if code, err = strconv.Atoi(c); err != nil {
			return nil, 0, fmt.Errorf("request %s: error code %q", subject, c)
		}
	}
	return reply, code, nil
}

// requestJSON sends v as JSON.
func (h *harness) requestJSON(subject string, v any, hdr nats.Header) (*nats.Msg, int) {
	h.t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.request(subject, data, hdr)
}

// order is a create request for customer cust-1.
func order(items ...contracts.OrderItem) contracts.CreateOrderRequest {
	return contracts.CreateOrderRequest{CustomerID: "cust-1", Items: items}
}

func item(product string, quantity int) contracts.OrderItem {
	return contracts.OrderItem{ProductID: product, Quantity: quantity}
}

// withKey is a header carrying an Idempotency-Key.
func withKey(key string) nats.Header {
	return nats.Header{runtime.HeaderIdempotencyKey: []string{key}}
}

// create places an order that must succeed and returns its id.
func (h *harness) create(req contracts.CreateOrderRequest, hdr nats.Header) contracts.CreateOrderReply {
	h.t.Helper()
	msg, code := h.requestJSON(contracts.SubjectOrdersCreate, req, hdr)
	if code != 0 {
		h.t.Fatalf("create: code %d: %s", code, msg.Data)
	}
	if err := contracts.CreateOrderReplyV1.Validate(msg.Data); err != nil {
		h.t.Fatalf("create reply: %v", err)
	}
	var reply contracts.CreateOrderReply
	if err := json.Unmarshal(msg.Data, &reply); err != nil {
		h.t.Fatal(err)
	}
	return reply
}

// get reads an order that must exist, checking it against its schema.
func (h *harness) get(id string) contracts.OrderView {
	h.t.Helper()
	msg, code := h.requestJSON(contracts.SubjectOrdersGet, contracts.GetOrderRequest{OrderID: id}, nil)
	if code != 0 {
		h.t.Fatalf("get %s: code %d: %s", id, code, msg.Data)
	}
	if err := contracts.OrderViewV1.Validate(msg.Data); err != nil {
		h.t.Fatalf("get %s: %v\n%s", id, err, msg.Data)
	}
	var v contracts.OrderView
	if err := json.Unmarshal(msg.Data, &v); err != nil {
		h.t.Fatal(err)
	}
	return v
}

// cancel cancels an order and returns the reply and its error code.
func (h *harness) cancel(id string) (contracts.CancelOrderReply, int) {
	h.t.Helper()
	msg, code := h.requestJSON(contracts.SubjectOrdersCancel, contracts.CancelOrderRequest{OrderID: id}, nil)
	var reply contracts.CancelOrderReply
	if code == 0 {
		if err := contracts.CancelOrderReplyV1.Validate(msg.Data); err != nil {
			h.t.Fatalf("cancel reply: %v", err)
		}
		if err := json.Unmarshal(msg.Data, &reply); err != nil {
			h.t.Fatal(err)
		}
	}
	return reply, code
}

// publish publishes an event as inventory or payments would. Each call is
// a new message, so publishing twice is a duplicate delivery.
func (h *harness) publish(ev contracts.Event, v any) *jetstream.PubAck {
	h.t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := ev.Validate(data); err != nil {
		h.t.Fatalf("test event %s: %v", ev, err)
	}
	ack, err := h.js.Publish(h.t.Context(), ev.Subject(), data)
	if err != nil {
		h.t.Fatalf("publish %s: %v", ev, err)
	}
	return ack
}

// handled waits until the handler's consumer acked the published message.
func (h *harness) handled(handler string, ack *jetstream.PubAck) {
	h.t.Helper()
	eventually(h.t, "orders-"+handler+" to ack "+ack.Stream+" #"+strconv.FormatUint(ack.Sequence, 10), func() bool {
		cons, err := h.js.Consumer(h.t.Context(), ack.Stream, "orders-"+handler)
		if err != nil {
			return false
		}
		info, err := cons.Info(h.t.Context())
		return err == nil && info.AckFloor.Stream >= ack.Sequence
	})
}

// waitStatus polls an order until it has the status.
func (h *harness) waitStatus(id string, status contracts.OrderStatus) contracts.OrderView {
	h.t.Helper()
	var v contracts.OrderView
	eventually(h.t, "order "+id+" "+string(status), func() bool {
		v = h.get(id)
		return v.Status == status
	})
	return v
}

// count is how many messages a stream holds on a subject.
func (h *harness) count(stream, subject string) uint64 {
	h.t.Helper()
	st, err := h.js.Stream(h.t.Context(), stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0
	}
	if err != nil {
		h.t.Fatalf("stream %s: %v", stream, err)
	}
	info, err := st.Info(h.t.Context(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		h.t.Fatalf("stream %s info: %v", stream, err)
	}
	return info.State.Subjects[subject]
}

// last returns the last message on a subject.
func (h *harness) last(stream, subject string) *jetstream.RawStreamMsg {
	h.t.Helper()
	st, err := h.js.Stream(h.t.Context(), stream)
	if err != nil {
		h.t.Fatalf("stream %s: %v", stream, err)
	}
	msg, err := st.GetLastMsgForSubject(h.t.Context(), subject)
	if err != nil {
		h.t.Fatalf("last %s: %v", subject, err)
	}
	return msg
}

// keys is how many keys a bucket holds.
func (h *harness) keys(bucket string) int {
	h.t.Helper()
	kv, err := h.js.KeyValue(h.t.Context(), bucket)
	if err != nil {
		h.t.Fatalf("bucket %s: %v", bucket, err)
	}
	lister, err := kv.ListKeys(h.t.Context())
	if err != nil {
		h.t.Fatalf("keys of %s: %v", bucket, err)
	}
	n := 0
	for range lister.Keys() {
		n++
	}
	return n
}

// timeline lists the events of an order's timeline.
func timeline(v contracts.OrderView) string {
	events := make([]string, len(v.Timeline))
	for i, e := range v.Timeline {
		events[i] = e.Event + "/" + string(e.Status)
	}
	return strings.Join(events, " ")
}

// eventually polls cond until it holds, failing the test after 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	fntest.Eventually(t, 10*time.Second, what, cond)
}
