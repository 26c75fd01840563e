package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

type echoIn struct {
	Msg string `json:"msg"`
}

type echoOut struct {
	Echo string `json:"echo"`
}

// echoService serves echo.say, whose input chooses the outcome.
func echoService(concurrency int) *runtime.Service {
	svc := runtime.NewService(runtime.ServiceConfig{Name: "echo", Version: "1.0.0", Description: "echo for tests"})
	runtime.Endpoint(svc, "say", func(ctx context.Context, in echoIn) (echoOut, error) {
		switch in.Msg {
		case "missing":
			return echoOut{}, fmt.Errorf("thing %q: %w", in.Msg, runtime.ErrNotFound)
		case "conflict":
			return echoOut{}, fmt.Errorf("already there: %w", runtime.ErrConflict)
		case "down":
			return echoOut{}, fmt.Errorf("gateway: %w", runtime.ErrUnavailable)
		case "boom":
			return echoOut{}, fmt.Errorf("disk on fire")
		case "panic":
			panic("handler bug")
		case "slow":
			<-ctx.Done()
			return echoOut{}, ctx.Err()
		}
		return echoOut{Echo: in.Msg}, nil
	}, runtime.WithSchema(echoSchema{}), runtime.Concurrency(concurrency), runtime.MaxBytes(1024),
		runtime.WithTimeout(300*time.Millisecond))
	return svc
}

func TestEndpointCodes(t *testing.T) {
	for _, concurrency := range []int{1, 16} {
		t.Run(fmt.Sprintf("concurrency=%d", concurrency), func(t *testing.T) {
			srv := fntest.NewServer(t)
			fntest.Run(t, srv, echoService(concurrency))
			nc := srv.Connect(t)
			cases := []struct {
				name, body string
				code       int
				desc       string
			}{
				{"ok", `{"msg":"hi"}`, 0, ""},
				{"malformed", `{"msg":`, 400, "malformed JSON"},
				{"schema", `{"nope":1}`, 400, "/msg"},
				{"not found", `{"msg":"missing"}`, 404, `thing "missing"`},
				{"conflict", `{"msg":"conflict"}`, 409, "already there"},
				{"too large", `{"msg":"` + strings.Repeat("x", 2000) + `"}`, 413, "over the 1024 byte limit"},
				{"internal", `{"msg":"boom"}`, 500, "disk on fire"},
				{"unavailable", `{"msg":"down"}`, 503, "gateway"},
				{"timeout", `{"msg":"slow"}`, 503, "timed out"},
				{"panic", `{"msg":"panic"}`, 500, "panic: handler bug"},
				{"alive after panic", `{"msg":"still here"}`, 0, ""},
			}
			for _, c := range cases {
				msg := nats.NewMsg("echo.say")
				msg.Data = []byte(c.body)
				corr := "corr-" + strings.ReplaceAll(c.name, " ", "-")
				msg.Header.Set(runtime.HeaderCorrelationID, corr)
				reply, err := nc.RequestMsg(msg, 2*time.Second)
				if err != nil {
					t.Fatalf("%s: request: %v", c.name, err)
				}
				code := reply.Header.Get(micro.ErrorCodeHeader)
				if reply.Header.Get(runtime.HeaderCorrelationID) != corr {
					t.Errorf("%s: correlation id %q not echoed", c.name, reply.Header.Get(runtime.HeaderCorrelationID))
				}
				if c.code == 0 {
					if code != "" {
						t.Fatalf("%s: unexpected error %s %s", c.name, code, reply.Header.Get(micro.ErrorHeader))
					}
					var out echoOut
					if err := json.Unmarshal(reply.Data, &out); err != nil || out.Echo == "" {
						t.Fatalf("%s: reply %q", c.name, reply.Data)
					}
					continue
				}
				if code != fmt.Sprint(c.code) {
					t.Fatalf("%s: code %q, want %d (%s)", c.name, code, c.code, reply.Header.Get(micro.ErrorHeader))
				}
				if !strings.Contains(reply.Header.Get(micro.ErrorHeader), c.desc) {
					t.Errorf("%s: description %q lacks %q", c.name, reply.Header.Get(micro.ErrorHeader), c.desc)
				}
				var body runtime.ErrorBody
				if err := json.Unmarshal(reply.Data, &body); err != nil || body.Code != c.code || body.Description == "" {
					t.Errorf("%s: error body %q", c.name, reply.Data)
				}
			}
		})
	}
}

func TestTwoInstancesShareEndpoint(t *testing.T) {
	srv := fntest.NewServer(t)
	var hits [2]atomic.Int64
	for i := range 2 {
		svc := runtime.NewService(runtime.ServiceConfig{Name: "shared", Version: "1.0.0"})
		runtime.Endpoint(svc, "work", func(ctx context.Context, in echoIn) (echoOut, error) {
			hits[i].Add(1)
			return echoOut{Echo: in.Msg}, nil
		})
		fntest.RunConfig(t, srv.Config(fmt.Sprintf("i%d", i)), svc)
	}
	nc := srv.Connect(t)
	for range 200 {
		if _, err := nc.Request("shared.work", []byte(`{"msg":"x"}`), 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if hits[0].Load()+hits[1].Load() != 200 || hits[0].Load() == 0 || hits[1].Load() == 0 {
		t.Fatalf("requests not shared: %d and %d", hits[0].Load(), hits[1].Load())
	}
	// Both instances answer PING.
	infos := pingAll(t, nc, "shared")
	if infos != 2 {
		t.Fatalf("%d instances answered PING, want 2", infos)
	}
}

// pingAll counts the instances of a service that answer a micro PING.
func pingAll(t *testing.T, nc *nats.Conn, name string) int {
	t.Helper()
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest("$SRV.PING."+name, inbox, nil); err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		if _, err := sub.NextMsg(300 * time.Millisecond); err != nil {
			return n
		}
		n++
	}
}
