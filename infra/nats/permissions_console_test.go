package nats_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"github.com/nats-io/nuid"
)

// consoleRequests are the subjects the web console may request, by the
// function that serves them.
var consoleRequests = map[string][]string{
	"orders":    {"orders.create", "orders.get", "orders.cancel", "orders.dlq.list", "orders.dlq.replay"},
	"inventory": {"inventory.stock.get", "inventory.dlq.list", "inventory.dlq.replay"},
	"payments":  {"payments.gateway.get", "payments.gateway.set", "payments.dlq.list", "payments.dlq.replay"},
}

// TestConsoleCanDoItsJob runs what the web console does with its user:
// micro discovery of every function, each request it may send (served by
// the function's own user, as in production), and watching the nine events
// as they are published by their functions.
func TestConsoleCanDoItsJob(t *testing.T) {
	ts := startServer(t)
	ctx := ctxT(t)
	console := ts.connect(t, "console")

	watched := make(chan string, 64)
	for _, evs := range events {
		for _, ev := range evs {
			if _, err := console.Subscribe(ev, func(m *nats.Msg) { watched <- m.Subject }); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := console.Flush(); err != nil {
		t.Fatal(err)
	}

	for fn, subjects := range consoleRequests {
		c := ts.connect(t, fn)
		svc, err := micro.AddService(c.Conn, micro.Config{Name: fn, Version: "1.0.0"})
		if err != nil {
			t.Fatalf("%s: add service: %v", fn, err)
		}
		t.Cleanup(func() { _ = svc.Stop() })
		for i, subject := range subjects {
			err := svc.AddEndpoint("ep"+string(rune('a'+i)), micro.HandlerFunc(func(r micro.Request) {
				_ = r.Respond([]byte(fn + ":" + r.Subject()))
			}), micro.WithEndpointSubject(subject))
			if err != nil {
				t.Fatalf("%s: endpoint %s: %v", fn, subject, err)
			}
		}
		if err := c.Flush(); err != nil {
			t.Fatal(err)
		}
		for _, subject := range subjects {
			m, err := console.Request(subject, []byte(`{}`), 2*time.Second)
			if err != nil || string(m.Data) != fn+":"+subject {
				t.Errorf("console request %s: %v %q", subject, err, msgData(m))
			}
		}
		id := svc.Info().ID
		for _, verb := range []string{"PING", "INFO", "STATS"} {
			for _, subject := range []string{"$SRV." + verb, "$SRV." + verb + "." + fn, "$SRV." + verb + "." + fn + "." + id} {
				if _, err := console.Request(subject, nil, 2*time.Second); err != nil {
					t.Errorf("console discovery %s: %v", subject, err)
				}
			}
		}
		js := newJS(t, c)
		if _, err := js.CreateOrUpdateStream(ctx, ts.stream(ownStreams[fn])); err != nil {
			t.Fatal(err)
		}
		for _, ev := range events[fn] {
			if _, err := js.Publish(ctx, ev, []byte(`{}`), jetstream.WithMsgID(nuid.Next())); err != nil {
				t.Fatalf("%s publish %s: %v", fn, ev, err)
			}
			select {
			case got := <-watched:
				if got != ev {
					t.Errorf("console watched %s, want %s", got, ev)
				}
			case <-ctx.Done():
				t.Fatalf("console did not see %s", ev)
			}
		}
	}
	console.noViolations(t)
}

// TestConsoleIsConfined has the console try what it must not: publish or
// forge events, change stock, serve a function's subject, read another
// client's replies, and touch JetStream or KV in any way.
func TestConsoleIsConfined(t *testing.T) {
	ts := startServer(t)
	admin := newJS(t, ts.connect(t, "admin"))
	ctx := ctxT(t)
	if _, err := admin.CreateOrUpdateStream(ctx, ts.stream(ownStreams["orders"])); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "orders", Replicas: ts.replicas}); err != nil {
		t.Fatal(err)
	}
	pub := func(subject string) func(context.Context, *client) error {
		return func(_ context.Context, c *client) error { return c.Publish(subject, []byte(`{}`)) }
	}
	sub := func(subject string) func(context.Context, *client) error {
		return func(_ context.Context, c *client) error { _, err := c.SubscribeSync(subject); return err }
	}
	cases := []struct {
		name, kind, subject string
		do                  func(context.Context, *client) error
	}{
		{"forges orders.created", "publish", "orders.created", pub("orders.created")},
		{"forges payments.completed", "publish", "payments.completed", pub("payments.completed")},
		{"sets stock", "publish", "inventory.stock.set", pub("inventory.stock.set")},
		{"writes a dead letter", "publish", "deadletter.orders.x", pub("deadletter.orders.x")},
		{"serves orders.create", "subscription", "orders.create", sub("orders.create")},
		{"reads every reply", "subscription", "_INBOX.>", sub("_INBOX.>")},
		{"reads orders' replies", "subscription", "_INBOX_orders.>", sub("_INBOX_orders.>")},
		{"snoops all events", "subscription", "orders.>", sub("orders.>")},
		{"reads dead letters", "subscription", "deadletter.>", sub("deadletter.>")},
		{"asks JetStream", "publish", "$JS.API.INFO",
			func(ctx context.Context, c *client) error {
				js, err := jetstream.New(c.Conn)
				if err != nil {
					return err
				}
				_, err = js.AccountInfo(ctx)
				return err
			}},
		{"reads the orders KV", "publish", "$JS.API.STREAM.INFO.KV_orders",
			func(ctx context.Context, c *client) error {
				js, err := jetstream.New(c.Conn)
				if err != nil {
					return err
				}
				_, err = js.KeyValue(ctx, "orders")
				return err
			}},
		{"writes the orders KV", "publish", "$KV.orders.x", pub("$KV.orders.x")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ts.connect(t, "console")
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			_ = tc.do(ctx, c) // the refusal arrives asynchronously
			_ = c.Flush()
			c.waitViolation(t, tc.kind, tc.subject)
		})
	}
}
