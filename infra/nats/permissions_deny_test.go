package nats_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestAnonymousIsRefused(t *testing.T) {
	ts := startServer(t)
	nc, err := nats.Connect(ts.url, nats.MaxReconnects(0))
	if err == nil {
		nc.Close()
		t.Fatal("anonymous connection accepted")
	}
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("err = %v, want an authorization violation", err)
	}
}

// TestFunctionsAreConfined checks that a function cannot act for another:
// every case must be refused by the server with a permissions violation.
func TestFunctionsAreConfined(t *testing.T) {
	ts := startServer(t)
	admin := newJS(t, ts.connect(t, "admin"))
	ctx := ctxT(t)
	for _, cfg := range ownStreams {
		if _, err := admin.CreateOrUpdateStream(ctx, ts.stream(cfg)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.CreateOrUpdateStream(ctx, ts.stream(streamConfig("DEADLETTER", "deadletter.>"))); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"orders", "stock", "payments"} {
		if _, err := admin.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: b, Replicas: ts.replicas}); err != nil {
			t.Fatal(err)
		}
	}

	type action func(ctx context.Context, c *client) error
	pub := func(subject string) action {
		return func(_ context.Context, c *client) error { return c.Publish(subject, []byte(`{}`)) }
	}
	sub := func(subject string) action {
		return func(_ context.Context, c *client) error { _, err := c.QueueSubscribeSync(subject, "q"); return err }
	}
	jsDo := func(f func(ctx context.Context, js jetstream.JetStream) error) action {
		return func(ctx context.Context, c *client) error {
			js, err := jetstream.New(c.Conn)
			if err != nil {
				return err
			}
			return f(ctx, js)
		}
	}
	consumer := func(stream, filter string) action {
		return jsDo(func(ctx context.Context, js jetstream.JetStream) error {
			_, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{Durable: "x-y", FilterSubject: filter})
			return err
		})
	}

	cases := []struct {
		name, user, kind, subject string
		do                        action
	}{
		// A function publishes its own events only, not even those it
		// consumes (permissions_isolation_test.go tries every pair).
		{"orders emits inventory.released", "orders", "publish", "inventory.released", pub("inventory.released")},
		{"orders replays as payments", "orders", "publish", "payments.completed", pub("payments.completed")},
		{"inventory replays as orders", "inventory", "publish", "orders.created", pub("orders.created")},
		{"inventory emits orders.confirmed", "inventory", "publish", "orders.confirmed", pub("orders.confirmed")},
		{"payments emits orders.created", "payments", "publish", "orders.created", pub("orders.created")},
		{"inventory emits payments.completed", "inventory", "publish", "payments.completed", pub("payments.completed")},
		{"payments emits inventory.released", "payments", "publish", "inventory.released", pub("inventory.released")},
		{"payments dead-letters as orders", "payments", "publish", "deadletter.orders.x", pub("deadletter.orders.x")},
		{"inventory serves orders.create", "inventory", "subscription", "orders.create", sub("orders.create")},
		{"orders serves payments.gateway.set", "orders", "subscription", "payments.gateway.set", sub("payments.gateway.set")},
		{"payments snoops events", "payments", "subscription", "orders.>", sub("orders.>")},
		{"orders writes stock", "orders", "publish", "$KV.stock.sku-1",
			jsDo(func(ctx context.Context, js jetstream.JetStream) error {
				kv, err := js.KeyValue(ctx, "stock")
				if err != nil {
					return err
				}
				_, err = kv.Put(ctx, "sku-1", []byte("100"))
				return err
			})},
		{"payments reads orders KV", "payments", "publish", "$JS.API.STREAM.INFO.KV_orders",
			jsDo(func(ctx context.Context, js jetstream.JetStream) error {
				_, err := js.KeyValue(ctx, "orders")
				return err
			})},
		{"orders creates INVENTORY", "orders", "publish", "$JS.API.STREAM.CREATE.INVENTORY",
			jsDo(func(ctx context.Context, js jetstream.JetStream) error {
				_, err := js.CreateStream(ctx, streamConfig("INVENTORY", "inventory.reserved"))
				return err
			})},
		{"inventory deletes ORDERS", "inventory", "publish", "$JS.API.STREAM.DELETE.ORDERS",
			jsDo(func(ctx context.Context, js jetstream.JetStream) error { return js.DeleteStream(ctx, "ORDERS") })},
		{"payments consumes orders.created", "payments", "publish", "$JS.API.CONSUMER.CREATE.ORDERS.x-y.orders.created",
			consumer("ORDERS", "orders.created")},
		{"inventory consumes all of ORDERS", "inventory", "publish", "$JS.API.CONSUMER.CREATE.ORDERS.x-y",
			consumer("ORDERS", "")},
		{"inventory reads orders' dead letters", "inventory", "publish", "$JS.API.CONSUMER.CREATE.DEADLETTER.x-y.deadletter.orders.>",
			consumer("DEADLETTER", "deadletter.orders.>")},
		{"inventory runs orders' replays", "inventory", "publish", "$JS.API.CONSUMER.CREATE.DEADLETTER.x-y.deadletter.orders.*.replay",
			consumer("DEADLETTER", "deadletter.orders.*.replay")},
		{"payments queues a replay for inventory", "payments", "publish", "deadletter.inventory.reserve.replay",
			pub("deadletter.inventory.reserve.replay")},
		{"orders reads every reply", "orders", "subscription", "_INBOX.>", sub("_INBOX.>")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ts.connect(t, tc.user)
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			_ = tc.do(ctx, c) // the refusal arrives asynchronously
			_ = c.Flush()
			c.waitViolation(t, tc.kind, tc.subject)
		})
	}
}
