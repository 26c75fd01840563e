package runtime_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/embedded"
)

// Hello is greet.hello's request.
type Hello struct {
	Name string `json:"name"`
}

// Greeting is greet.hello's reply.
type Greeting struct {
	Text string `json:"text"`
}

// hello is an endpoint: a typed request in, a typed reply or an error out.
func hello(ctx context.Context, in Hello) (Greeting, error) {
	if in.Name == "" {
		return Greeting{}, runtime.Errorf(runtime.ErrInvalid, "name is required")
	}
	return Greeting{Text: "hello " + in.Name}, nil
}

// A complete function: greet.hello, and a handler counting orders.created
// events. In a binary, main ends with runtime.Main(svc), which reads the
// config from the environment and runs until SIGTERM; here an embedded
// server stands in for NATS_URL.
func Example() {
	srv, client, stop := exampleServer()
	defer stop()
	ordersStream(client) // the orders function would create it

	counted := make(chan string, 1)
	svc := runtime.NewService(runtime.ServiceConfig{Name: "greet", Version: "1.0.0"})
	runtime.Endpoint(svc, "hello", hello)
	runtime.OnEvent(svc, "count", contracts.OrderCreated, func(ctx context.Context, ev contracts.OrderCreatedEvent) error {
		counted <- ev.OrderID // runtime.MessageFrom(ctx) has the delivery
		return nil
	}, runtime.MaxDeliver(3))

	inst, err := runtime.Start(context.Background(), exampleConfig(srv), svc)
	if err != nil {
		fmt.Println(err)
		return
	}
	reply, _ := client.nc.Request("greet.hello", []byte(`{"name":"gopher"}`), time.Second)
	fmt.Println(string(reply.Data))
	reply, _ = client.nc.Request("greet.hello", []byte(`{}`), time.Second)
	fmt.Println(reply.Header.Get("Nats-Service-Error-Code"), reply.Header.Get("Nats-Service-Error"))

	client.publish(contracts.SubjectOrdersCreated, `{"order_id":"o-1","customer_id":"c-1",`+
		`"items":[{"product_id":"sku-1","quantity":1}],"created_at":"2026-01-02T03:04:05Z"}`)
	fmt.Println("counted", <-counted)
	fmt.Println("stopped:", inst.Stop())
	// Output:
	// {"text":"hello gopher"}
	// 400 name is required
	// counted o-1
	// stopped: <nil>
}

// An event handler returns nil to ack; an error wrapping ErrInvalid (or
// marked Permanent) dead-letters the event at once, any other error is
// retried after the BackOff delay until MaxDeliver, then dead-lettered.
func ExampleOnEvent() {
	srv, client, stop := exampleServer()
	defer stop()
	ordersStream(client)

	seen := make(chan string, 2)
	svc := runtime.NewService(runtime.ServiceConfig{Name: "audit", Version: "1.0.0"})
	runtime.OnEvent(svc, "record", contracts.OrderCreated, func(ctx context.Context, ev contracts.OrderCreatedEvent) error {
		m := runtime.MessageFrom(ctx)
		seen <- fmt.Sprintf("%s: delivery %d of %s #%d", ev.OrderID, m.Delivered, m.Stream, m.Sequence)
		return nil
	}, runtime.MaxDeliver(5), runtime.BackOff(time.Second, 5*time.Second), runtime.Concurrency(1))

	inst, err := runtime.Start(context.Background(), exampleConfig(srv), svc)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer inst.Stop()
	for _, id := range []string{"o-1", "o-2"} {
		client.publish(contracts.SubjectOrdersCreated, `{"order_id":"`+id+`","customer_id":"c-1",`+
			`"items":[{"product_id":"sku-1","quantity":1}],"created_at":"2026-01-02T03:04:05Z"}`)
	}
	fmt.Println(<-seen)
	fmt.Println(<-seen)
	// Output:
	// o-1: delivery 1 of ORDERS #1
	// o-2: delivery 1 of ORDERS #2
}

// Emit publishes an event from a handler and waits for the stream's ack.
// The event carries the request's correlation id, and a Nats-Msg-Id that
// makes publishing it twice harmless (MsgID from an endpoint; an event
// handler's emits get one derived from the event they handle).
func ExampleEmit() {
	srv, client, stop := exampleServer()
	defer stop()

	svc := runtime.NewService(runtime.ServiceConfig{Name: "orders", Version: "1.0.0"})
	orders, _ := contracts.LookupStream(contracts.StreamOrders)
	svc.Stream(jetstream.StreamConfig{Name: orders.Name, Subjects: orders.Subjects})
	runtime.Endpoint(svc, "place", func(ctx context.Context, in contracts.CreateOrderRequest) (contracts.CreateOrderReply, error) {
		id := "o-42"
		ev := contracts.OrderCreatedEvent{OrderID: id, CustomerID: in.CustomerID, Items: in.Items,
			CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		if err := runtime.Emit(ctx, contracts.OrderCreated, ev, runtime.MsgID("orders.created:"+id)); err != nil {
			return contracts.CreateOrderReply{}, err
		}
		return contracts.CreateOrderReply{OrderID: id, Status: contracts.StatusPending}, nil
	}, runtime.WithSchema(contracts.CreateOrderRequestV1))

	inst, err := runtime.Start(context.Background(), exampleConfig(srv), svc)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer inst.Stop()
	req := nats.NewMsg("orders.place")
	req.Header.Set(runtime.HeaderCorrelationID, "corr-7")
	req.Data = []byte(`{"customer_id":"c-1","items":[{"product_id":"sku-1","quantity":2}]}`)
	reply, _ := client.nc.RequestMsg(req, time.Second)
	fmt.Println(string(reply.Data))

	st, _ := client.js.Stream(context.Background(), orders.Name)
	ev, _ := st.GetLastMsgForSubject(context.Background(), contracts.SubjectOrdersCreated)
	fmt.Println(ev.Header.Get("Nats-Msg-Id"), ev.Header.Get(runtime.HeaderCorrelationID), ev.Header.Get("ce-dataschema"))
	fmt.Println(string(ev.Data))
	// Output:
	// {"order_id":"o-42","status":"pending"}
	// orders.created:o-42 corr-7 https://natsfn.dev/schemas/orders.created/1.1.json
	// {"order_id":"o-42","customer_id":"c-1","items":[{"product_id":"sku-1","quantity":2}],"created_at":"2026-01-02T03:04:05Z"}
}

// Describe reads a declaration without running it: what a generator of
// deployment manifests (one KEDA scaler per consumer) or a console needs.
func ExampleService_Describe() {
	svc := runtime.NewService(runtime.ServiceConfig{Name: "greet", Version: "1.0.0"})
	runtime.Endpoint(svc, "hello", hello)
	runtime.OnEvent(svc, "count", contracts.OrderCreated, func(context.Context, contracts.OrderCreatedEvent) error { return nil },
		runtime.MaxDeliver(3))

	d := svc.Describe()
	for _, e := range d.Endpoints {
		fmt.Println("endpoint", e.Subject)
	}
	for _, h := range d.EventHandlers {
		fmt.Println("consumer", h.Stream, h.Consumer, h.Subject, h.Schema, h.MaxDeliver, h.BackOff)
	}
	// Output:
	// endpoint greet.hello
	// endpoint greet.dlq.list
	// endpoint greet.dlq.replay
	// endpoint greet.schemas
	// consumer ORDERS greet-count orders.created orders.created.v1 3 [1s 5s 15s]
}

// exampleClient is the examples' side of the server.
type exampleClient struct {
	nc *nats.Conn
	js jetstream.JetStream
}

// exampleServer starts an embedded JetStream server and a client of it.
func exampleServer() (*embedded.Server, *exampleClient, func()) {
	dir, err := os.MkdirTemp("", "natsfn-example")
	if err != nil {
		panic(err)
	}
	srv, err := embedded.Start(embedded.Config{Port: -1, StoreDir: dir})
	if err != nil {
		panic(err)
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		panic(err)
	}
	js, _ := jetstream.New(nc)
	return srv, &exampleClient{nc: nc, js: js}, func() {
		nc.Close()
		srv.Stop()
		_ = os.RemoveAll(dir)
	}
}

// exampleConfig runs against srv, its logs discarded.
func exampleConfig(srv *embedded.Server) runtime.Config {
	return runtime.Config{NATSURL: srv.ClientURL(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// ordersStream creates the ORDERS stream as its owner, the orders function, would.
func ordersStream(c *exampleClient) {
	d, _ := contracts.LookupStream(contracts.StreamOrders)
	if _, err := c.js.CreateStream(context.Background(), jetstream.StreamConfig{Name: d.Name, Subjects: d.Subjects}); err != nil {
		panic(err)
	}
}

// publish stores an event as another function's Emit would.
func (c *exampleClient) publish(subject, body string) {
	if _, err := c.js.Publish(context.Background(), subject, []byte(body)); err != nil {
		panic(err)
	}
}
