package fntest_test

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
	"github.com/natsfn/natsfn/runtime/fntest"
)

// Metrics reads what a function counts, by instrument name and labels. In
// a test, fntest.NewServer and fntest.RunConfig stand for the embedded
// server and runtime.Start below:
//
//	m := fntest.NewMetrics()
//	cfg := srv.Config("i1")
//	cfg.MeterProvider = m
//	fntest.RunConfig(t, cfg, svc)
func ExampleMetrics() {
	dir, _ := os.MkdirTemp("", "fntest-example")
	defer os.RemoveAll(dir)
	srv, err := embedded.Start(embedded.Config{Port: -1, StoreDir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Stop()

	type hello struct {
		Name string `json:"name"`
	}
	svc := runtime.NewService(runtime.ServiceConfig{Name: "greet", Version: "1.0.0"})
	runtime.Endpoint(svc, "hello", func(ctx context.Context, in hello) (string, error) {
		if in.Name == "" {
			return "", runtime.Errorf(runtime.ErrInvalid, "name is required")
		}
		return "hello " + in.Name, nil
	})
	m := fntest.NewMetrics()
	defer m.Shutdown(context.Background())
	cfg := runtime.Config{NATSURL: srv.ClientURL(), MeterProvider: m, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	inst, err := runtime.Start(context.Background(), cfg, svc)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer inst.Stop()

	nc, _ := nats.Connect(srv.ClientURL())
	defer nc.Close()
	for _, body := range []string{`{"name":"a"}`, `{"name":"b"}`, `{}`} {
		_, _ = nc.Request("greet.hello", []byte(body), time.Second)
	}
	fmt.Println(m.Value("natsfn.handled", "handler", "hello", "outcome", "ok"))
	fmt.Println(m.Value("natsfn.handler.errors", "handler", "hello", "code", "400"))
	fmt.Println(m.Value("natsfn.handler.duration", "function", "greet"))
	fmt.Println(m.Value("natsfn.handled", "handler", "nonesuch"))
	// Output:
	// 2 true
	// 1 true
	// 3 true
	// 0 false
}
