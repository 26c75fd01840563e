package runtime_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/embedded"
)

type hello struct {
	Name string `json:"name"`
}

type greeting struct {
	Text string `json:"text"`
}

// A function with one endpoint, run against an embedded NATS server.
func ExampleEndpoint() {
	dir, _ := os.MkdirTemp("", "natsfn-example")
	defer os.RemoveAll(dir)
	srv, err := embedded.Start(embedded.Config{Port: -1, StoreDir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Stop()

	svc := runtime.NewService(runtime.ServiceConfig{Name: "greet", Version: "1.0.0"})
	runtime.Endpoint(svc, "hello", func(ctx context.Context, in hello) (greeting, error) {
		if in.Name == "" {
			return greeting{}, runtime.Errorf(runtime.ErrInvalid, "name is required")
		}
		return greeting{Text: "hello " + in.Name}, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	cfg := runtime.Config{NATSURL: srv.ClientURL(), OpsAddr: "off", LogLevel: "info", LogFormat: "json",
		ShutdownTimeout: 5 * time.Second, ConnectTimeout: 5 * time.Second, Replicas: 1,
		Logger: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	done := make(chan error)
	go func() { done <- runtime.Run(ctx, cfg, svc) }()
	<-svc.Ready()

	nc, _ := nats.Connect(srv.ClientURL())
	defer nc.Close()
	reply, _ := nc.Request("greet.hello", []byte(`{"name":"gopher"}`), time.Second)
	fmt.Println(string(reply.Data))
	reply, _ = nc.Request("greet.hello", []byte(`{}`), time.Second)
	fmt.Println(reply.Header.Get("Nats-Service-Error-Code"), reply.Header.Get("Nats-Service-Error"))

	cancel()
	fmt.Println("shutdown:", <-done)
	// Output:
	// {"text":"hello gopher"}
	// 400 name is required
	// shutdown: <nil>
}
