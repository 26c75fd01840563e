package nats_test

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/nats-io/nuid"
	"github.com/synadia-io/orbit.go/jetstreamext"
)

// streams and buckets per function, as in the conventions.
var (
	ownStreams = map[string]jetstream.StreamConfig{
		"orders":    streamConfig("ORDERS", "orders.created", "orders.cancelled", "orders.confirmed"),
		"inventory": streamConfig("INVENTORY", "inventory.reserved", "inventory.reserved.v2", "inventory.rejected", "inventory.released"),
		"payments": streamConfig("PAYMENTS", "payments.completed", "payments.completed.v2", "payments.failed", "payments.failed.v2",
			"payments.refunded", "payments.refunded.v2"),
	}
	ownBuckets = map[string][]string{
		"orders":    {"orders", "idempotency"},
		"inventory": {"stock"},
		"payments":  {"payments", "gateway"},
	}
)

func streamConfig(name string, subjects ...string) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name: name, Subjects: subjects, Retention: jetstream.LimitsPolicy,
		Storage: jetstream.FileStorage, Duplicates: 2 * time.Minute,
		AllowAtomicPublish: true, // as runtime.Service.Stream makes them
	}
}

// stream returns cfg with the replicas of the server under test.
func (ts *testServer) stream(cfg jetstream.StreamConfig) jetstream.StreamConfig {
	cfg.Replicas = ts.replicas
	return cfg
}

func newJS(t *testing.T, c *client) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(c.Conn)
	if err != nil {
		t.Fatalf("jetstream: %v", err)
	}
	return js
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Consumers made by these tests are named <function>-infratest-<what>, so a
// run against a live cluster never binds to a real handler's consumer.

// TestFunctionsCanDoTheirJob walks through everything a function does with
// its own user: streams, KV, consumers, acks, dead letters, advisories and
// micro endpoints. Any permission the runtime needs and the config lacks
// shows up here as a violation.
func TestFunctionsCanDoTheirJob(t *testing.T) {
	ts := startServer(t)
	ctx := ctxT(t)
	clients := map[string]*client{}
	for _, fn := range functionUsers {
		c := ts.connect(t, fn)
		clients[fn] = c
		js := newJS(t, c)
		if _, err := js.AccountInfo(ctx); err != nil {
			t.Fatalf("%s: account info: %v", fn, err)
		}
		if _, err := js.CreateOrUpdateStream(ctx, ts.stream(ownStreams[fn])); err != nil {
			t.Fatalf("%s: create stream: %v", fn, err)
		}
		if _, err := js.CreateOrUpdateStream(ctx, ts.stream(streamConfig("DEADLETTER", "deadletter.>"))); err != nil {
			t.Fatalf("%s: create DEADLETTER: %v", fn, err)
		}
		for _, b := range ownBuckets[fn] {
			useBucket(ctx, t, js, b, ts.replicas)
		}
	}

	t.Run("orders reads stock", func(t *testing.T) {
		inv := newJS(t, clients["inventory"])
		kv, err := inv.KeyValue(ctx, "stock")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := kv.Put(ctx, "sku-1", []byte("5")); err != nil {
			t.Fatal(err)
		}
		kv, err = newJS(t, clients["orders"]).KeyValue(ctx, "stock")
		if err != nil {
			t.Fatalf("open stock: %v", err)
		}
		for { // direct gets may lag a moment on a cluster
			e, err := kv.Get(ctx, "sku-1")
			if err == nil && string(e.Value()) == "5" {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("get stock: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})

	// inventory changes the stock of an order's lines and its reservation
	// in one atomic batch: its account must allow the batch's messages and
	// the stream update that turns atomic publish on.
	t.Run("inventory commits a transaction on stock", func(t *testing.T) {
		js := newJS(t, clients["inventory"])
		st, err := js.Stream(ctx, "KV_stock")
		if err != nil {
			t.Fatal(err)
		}
		cfg := st.CachedInfo().Config
		cfg.AllowAtomicPublish = true
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			t.Fatalf("allow atomic publish: %v", err)
		}
		var msgs []*nats.Msg
		for _, k := range []string{"sku-tx", "reservation/o-tx"} {
			m := nats.NewMsg("$KV.stock." + k)
			m.Data = []byte("1")
			m.Header.Set(jetstream.ExpectedLastSubjSeqHeader, "0")
			msgs = append(msgs, m)
		}
		if _, err := jetstreamext.PublishMsgBatch(ctx, js, msgs); err != nil {
			t.Fatalf("atomic batch: %v", err)
		}
	})

	t.Run("saga events flow", func(t *testing.T) {
		publish(ctx, t, clients["orders"], "orders.created")
		consumeOne(ctx, t, clients["inventory"], "ORDERS", "inventory-infratest-reserve", "orders.created")
		// event first: orders stores the orders it announced from the stream
		consumeOne(ctx, t, clients["orders"], "ORDERS", "orders-infratest-created", "orders.created")
		publish(ctx, t, clients["inventory"], "inventory.reserved")
		consumeOne(ctx, t, clients["payments"], "INVENTORY", "payments-infratest-charge", "inventory.reserved")
		consumeOne(ctx, t, clients["orders"], "INVENTORY", "orders-infratest-reserved", "inventory.reserved")
		publish(ctx, t, clients["payments"], "payments.failed")
		consumeOne(ctx, t, clients["inventory"], "PAYMENTS", "inventory-infratest-release", "payments.failed")
		consumeOne(ctx, t, clients["orders"], "PAYMENTS", "orders-infratest-failed", "payments.failed")
		publish(ctx, t, clients["orders"], "orders.cancelled")
		consumeOne(ctx, t, clients["payments"], "ORDERS", "payments-infratest-cancel", "orders.cancelled")
		publish(ctx, t, clients["payments"], "payments.refunded")
		consumeOne(ctx, t, clients["orders"], "PAYMENTS", "orders-infratest-refunded", "payments.refunded")
	})

	t.Run("both majors during a migration", func(t *testing.T) {
		// The producers publish major 2 (NATSFN_PHASES dual or v2), in
		// one atomic batch with major 1 at dual.
		publishBatch(ctx, t, clients["inventory"], "inventory.reserved", "inventory.reserved.v2")
		publishBatch(ctx, t, clients["payments"], "payments.completed", "payments.completed.v2")
		publishBatch(ctx, t, clients["payments"], "payments.failed", "payments.failed.v2")
		publishBatch(ctx, t, clients["payments"], "payments.refunded", "payments.refunded.v2")
		if ts.external {
			return // the consumers below are the real handlers' own: not on a live cluster
		}
		// The handlers that read both majors (runtime.Accepts) filter both
		// subjects, a create that names the consumer only.
		for _, c := range []struct{ fn, stream, durable, v1 string }{
			{"payments", "INVENTORY", "payments-charge", "inventory.reserved"},
			{"orders", "INVENTORY", "orders-inventory-reserved", "inventory.reserved"},
			{"orders", "PAYMENTS", "orders-payment-completed", "payments.completed"},
			{"orders", "PAYMENTS", "orders-payment-failed", "payments.failed"},
			{"orders", "PAYMENTS", "orders-payment-refunded", "payments.refunded"},
			{"inventory", "PAYMENTS", "inventory-release-on-payment-failed", "payments.failed"},
		} {
			js := newJS(t, clients[c.fn])
			if _, err := js.CreateOrUpdateConsumer(ctx, c.stream, jetstream.ConsumerConfig{
				Durable: c.durable, FilterSubjects: []string{c.v1 + ".v2", c.v1}, AckPolicy: jetstream.AckExplicitPolicy,
				InactiveThreshold: time.Minute,
			}); err != nil {
				t.Errorf("%s: consumer %s on both majors: %v", c.fn, c.durable, err)
			}
		}
	})

	t.Run("dead letters", func(t *testing.T) {
		for fn, c := range clients {
			deadLetter(ctx, t, ts, c, fn)
		}
	})

	t.Run("micro endpoints", func(t *testing.T) {
		admin := ts.connect(t, "admin")
		for fn, subject := range map[string]string{
			"orders": "orders.create", "inventory": "inventory.stock.get", "payments": "payments.gateway.get",
		} {
			svc, err := micro.AddService(clients[fn].Conn, micro.Config{Name: fn, Version: "1.0.0"})
			if err != nil {
				t.Fatalf("%s: add service: %v", fn, err)
			}
			t.Cleanup(func() { _ = svc.Stop() })
			// The function's own endpoint, and the runtime's schemas endpoint.
			for i, s := range []string{subject, fn + ".schemas"} {
				err = svc.AddEndpoint("ep"+strconv.Itoa(i), micro.HandlerFunc(func(r micro.Request) { _ = r.Respond([]byte("ok")) }),
					micro.WithEndpointSubject(s))
				if err != nil {
					t.Fatalf("%s: add endpoint: %v", fn, err)
				}
			}
			if err := clients[fn].Flush(); err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{subject, fn + ".schemas"} {
				if m, err := admin.Request(s, nil, 2*time.Second); err != nil || string(m.Data) != "ok" {
					t.Fatalf("request %s: %v", s, err)
				}
			}
			if fn == "orders" { // a charge asks orders.get whether orders knows the order
				if err := svc.AddEndpoint("get", micro.HandlerFunc(func(r micro.Request) { _ = r.Respond([]byte("ok")) }),
					micro.WithEndpointSubject("orders.get")); err != nil {
					t.Fatal(err)
				}
				if err := clients[fn].Flush(); err != nil {
					t.Fatal(err)
				}
				if m, err := clients["payments"].Request("orders.get", nil, 2*time.Second); err != nil || string(m.Data) != "ok" {
					t.Fatalf("payments requests orders.get: %v", err)
				}
			}
			if _, err := admin.Request("$SRV.STATS."+fn, nil, 2*time.Second); err != nil {
				t.Fatalf("micro stats %s: %v", fn, err)
			}
		}
	})

	for fn, c := range clients {
		t.Run(fn+" had no violations", func(t *testing.T) { c.noViolations(t) })
	}
}

// useBucket creates a KV bucket and does what a function does with it.
func useBucket(ctx context.Context, t *testing.T, js jetstream.JetStream, bucket string, replicas int) {
	t.Helper()
	key := "k-" + nuid.Next()
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: bucket, History: 5, Replicas: replicas})
	if err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
	rev, err := kv.Create(ctx, key, []byte("v1"))
	if err != nil {
		t.Fatalf("%s: create key: %v", bucket, err)
	}
	if _, err := kv.Update(ctx, key, []byte("v2"), rev); err != nil {
		t.Fatalf("%s: update key: %v", bucket, err)
	}
	// KV buckets allow direct gets, which any replica answers: on a
	// cluster a read right after a write may be stale for a moment.
	for {
		e, err := kv.Get(ctx, key)
		if err == nil && string(e.Value()) == "v2" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%s: get key: %v", bucket, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		t.Fatalf("%s: watch: %v", bucket, err)
	}
	for e := range w.Updates() {
		if e == nil {
			break // initial values delivered
		}
	}
	_ = w.Stop()
	if _, err := kv.ListKeys(ctx); err != nil {
		t.Fatalf("%s: list keys: %v", bucket, err)
	}
	if err := kv.Delete(ctx, key); err != nil {
		t.Fatalf("%s: delete key: %v", bucket, err)
	}
}

func publish(ctx context.Context, t *testing.T, c *client, subject string) {
	t.Helper()
	js := newJS(t, c)
	if _, err := js.Publish(ctx, subject, []byte(`{}`), jetstream.WithMsgID(nuid.Next())); err != nil {
		t.Fatalf("publish %s: %v", subject, err)
	}
}

// publishBatch publishes one message on each subject as one atomic batch,
// as a producer at phase dual does.
func publishBatch(ctx context.Context, t *testing.T, c *client, subjects ...string) {
	t.Helper()
	var msgs []*nats.Msg
	for _, s := range subjects {
		m := nats.NewMsg(s)
		m.Data = []byte(`{}`)
		m.Header.Set(nats.MsgIdHdr, nuid.Next())
		msgs = append(msgs, m)
	}
	if _, err := jetstreamext.PublishMsgBatch(ctx, newJS(t, c), msgs); err != nil {
		t.Fatalf("batch %v: %v", subjects, err)
	}
}

// consumeOne binds a durable consumer filtered on subject, fetches one
// message, marks it in progress and acks it.
func consumeOne(ctx context.Context, t *testing.T, c *client, stream, durable, subject string) {
	t.Helper()
	js := newJS(t, c)
	durable = c.consumerName(durable)
	cons, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable: durable, FilterSubject: subject, AckPolicy: jetstream.AckExplicitPolicy, MaxDeliver: 5,
		InactiveThreshold: time.Minute,
	})
	if err != nil {
		t.Fatalf("consumer %s on %s: %v", durable, stream, err)
	}
	msgs, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatalf("fetch %s: %v", durable, err)
	}
	n := 0
	for m := range msgs.Messages() {
		n++
		if err := m.InProgress(); err != nil {
			t.Fatal(err)
		}
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatalf("ack %s: %v", durable, err)
		}
	}
	if n != 1 || msgs.Error() != nil {
		t.Fatalf("%s: fetched %d messages, err %v", durable, n, msgs.Error())
	}
	if _, err := cons.Info(ctx); err != nil {
		t.Fatalf("consumer info %s: %v", durable, err)
	}
}

// deadLetter runs the dead-letter path of a function: a handler consumer
// exhausts MaxDeliver, the advisory arrives, the message is fetched by
// sequence from the source stream and stored in DEADLETTER, listed through
// a consumer filtered on the function's own dead letters, replayed, and the
// handler's consumer is paused.
func deadLetter(ctx context.Context, t *testing.T, ts *testServer, c *client, fn string) {
	t.Helper()
	js := newJS(t, c)
	source := map[string]struct{ stream, subject, producer string }{
		"orders":    {"INVENTORY", "inventory.rejected", "inventory"},
		"inventory": {"ORDERS", "orders.cancelled", "orders"},
		"payments":  {"ORDERS", "orders.cancelled", "orders"},
	}[fn]
	durable := c.consumerName(fn + "-infratest-dlq")
	cons, err := js.CreateOrUpdateConsumer(ctx, source.stream, jetstream.ConsumerConfig{
		Durable: durable, FilterSubject: source.subject, AckPolicy: jetstream.AckExplicitPolicy,
		MaxDeliver: 1, DeliverPolicy: jetstream.DeliverNewPolicy, InactiveThreshold: time.Minute,
	})
	if err != nil {
		t.Fatalf("%s: consumer: %v", fn, err)
	}
	advisories, err := c.SubscribeSync("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + source.stream + "." + durable)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	producer := newJS(t, ts.connect(t, source.producer))
	ack, err := producer.Publish(ctx, source.subject, []byte(`{}`), jetstream.WithMsgID(nuid.Next()))
	if err != nil {
		t.Fatalf("publish poison: %v", err)
	}
	msgs, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	for m := range msgs.Messages() {
		_ = m.Nak()
	}
	// The server notices the exhausted message when it looks for the next
	// one to deliver, as a running handler's pull would make it do.
	_, _ = cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
	if _, err := advisories.NextMsg(10 * time.Second); err != nil {
		t.Fatalf("%s: no MAX_DELIVERIES advisory: %v", fn, err)
	}
	stream, err := js.Stream(ctx, source.stream)
	if err != nil {
		t.Fatalf("%s: open %s: %v", fn, source.stream, err)
	}
	raw, err := stream.GetMsg(ctx, ack.Sequence)
	if err != nil {
		t.Fatalf("%s: get msg %d: %v", fn, ack.Sequence, err)
	}
	dlAck, err := js.Publish(ctx, "deadletter."+fn+".test", raw.Data)
	if err != nil {
		t.Fatalf("%s: dead-letter: %v", fn, err)
	}
	list, err := js.OrderedConsumer(ctx, "DEADLETTER", jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"deadletter." + fn + ".>"},
	})
	if err != nil {
		t.Fatalf("%s: list dead letters: %v", fn, err)
	}
	// On a cluster the first pull can race the new consumer's interest
	// crossing the routes ("no responders"): retry until the deadline.
	for {
		_, err := list.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err == nil {
			break
		}
		if !errors.Is(err, nats.ErrNoResponders) || ctx.Err() != nil {
			t.Fatalf("%s: read dead letter: %v", fn, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	replayDeadLetter(ctx, t, c, fn, dlAck.Sequence)
	if _, err := js.PauseConsumer(ctx, source.stream, durable, time.Now().Add(time.Second)); err != nil {
		t.Fatalf("%s: pause consumer: %v", fn, err)
	}
}

// replayDeadLetter replays a dead letter the way the runtime does, through
// DEADLETTER alone: the entry is copied to deadletter.<fn>.<handler>.replay,
// the function's replay consumer (filtered on deadletter.<fn>.*.replay)
// takes it and acks it, and both entries are deleted. Nothing is published
// on the event's original subject, which belongs to another function.
func replayDeadLetter(ctx context.Context, t *testing.T, c *client, fn string, seq uint64) {
	t.Helper()
	js := newJS(t, c)
	dl, err := js.Stream(ctx, "DEADLETTER")
	if err != nil {
		t.Fatalf("%s: open DEADLETTER: %v", fn, err)
	}
	entry, err := dl.GetMsg(ctx, seq)
	if err != nil {
		t.Fatalf("%s: get dead letter: %v", fn, err)
	}
	replay := &nats.Msg{Subject: entry.Subject + ".replay", Header: nats.Header{}, Data: entry.Data}
	for k, v := range entry.Header {
		replay.Header[k] = v
	}
	replay.Header.Set(nats.MsgIdHdr, "replay:"+nuid.Next())
	replayAck, err := js.PublishMsg(ctx, replay)
	if err != nil {
		t.Fatalf("%s: publish replay %s: %v", fn, replay.Subject, err)
	}
	// The runtime's consumer is <fn>-replay; a unique name keeps a run
	// against a live cluster off the real one (the permission is the same).
	durable := c.consumerName(fn + "-replay")
	cons, err := js.CreateOrUpdateConsumer(ctx, "DEADLETTER", jetstream.ConsumerConfig{
		Durable: durable, FilterSubject: "deadletter." + fn + ".*.replay", AckPolicy: jetstream.AckExplicitPolicy,
		MaxDeliver: 5, InactiveThreshold: time.Minute,
	})
	if err != nil {
		t.Fatalf("%s: replay consumer: %v", fn, err)
	}
	// The advisories of the real replay consumer, as the runtime listens to
	// those of every consumer it owns (noViolations checks the grant).
	for _, kind := range []string{"MAX_DELIVERIES", "MSG_TERMINATED"} {
		if _, err := c.SubscribeSync("$JS.EVENT.ADVISORY.CONSUMER." + kind + ".DEADLETTER." + fn + "-replay"); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := cons.Fetch(1, jetstream.FetchMaxWait(5*time.Second))
	if err != nil {
		t.Fatalf("%s: fetch replay: %v", fn, err)
	}
	n := 0
	for m := range msgs.Messages() {
		n++
		if !bytes.Equal(m.Data(), entry.Data) {
			t.Errorf("%s: replayed %q, want the dead letter's %q", fn, m.Data(), entry.Data)
		}
		if err := m.DoubleAck(ctx); err != nil {
			t.Fatalf("%s: ack replay: %v", fn, err)
		}
	}
	if n != 1 {
		t.Fatalf("%s: replay consumer fetched %d messages (%v), want 1", fn, n, msgs.Error())
	}
	for _, s := range []uint64{seq, replayAck.Sequence} {
		if err := dl.DeleteMsg(ctx, s); err != nil {
			t.Fatalf("%s: remove replayed dead letter %d: %v", fn, s, err)
		}
	}
	if _, err := cons.Info(ctx); err != nil {
		t.Fatalf("%s: replay consumer info: %v", fn, err)
	}
}
