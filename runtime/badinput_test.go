package runtime_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/deadletter"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestInvalidUTF8IsRefused: a request or an event whose payload is not
// valid UTF-8 is a 400 before the handler runs (Go's decoder would store
// U+FFFD in its place); the event is dead-lettered at once.
func TestInvalidUTF8IsRefused(t *testing.T) {
	srv := fntest.NewServer(t)
	var calls atomic.Int64
	svc := echoService(1)
	jobsStream(svc)
	runtime.OnEvent(svc, "take", jobsIn, func(ctx context.Context, in event) error {
		calls.Add(1)
		return nil
	})
	fntest.Run(t, srv, svc)
	nc := srv.Connect(t)
	for _, req := range []string{"{\"msg\":\"caf\xe9\"}", "{\"msg\":\"ok\",\"x\":\"\xff\xfe\"}"} {
		body, code := fntest.Request(t, nc, "echo.say", []byte(req))
		if code != "400" || !strings.Contains(string(body), "UTF-8") {
			t.Errorf("request %q: code %q body %s, want a 400 naming UTF-8", req, code, body)
		}
	}
	js := srv.JetStream(t)
	if _, err := js.PublishMsg(context.Background(), natsMsg(jobsIn.subject, "{\"id\":\"\xc3\x28\"}")); err != nil {
		t.Fatal(err)
	}
	fntest.Eventually(t, 20*time.Second, "the event dead-lettered", func() bool {
		return subjectCount(t, js, deadletter.Stream, "deadletter.echo.take") == 1
	})
	if calls.Load() != 0 {
		t.Fatalf("the handler ran %d times on invalid UTF-8", calls.Load())
	}
}

// TestIntegralNumbersDecode: JSON Schema counts 1.0 and 1e0 as integers,
// so an int field takes them too; 1.5 stays a 400 that names the field.
func TestIntegralNumbersDecode(t *testing.T) {
	type item struct {
		Quantity int `json:"quantity"`
	}
	type order struct {
		Items []item `json:"items"`
		Price int64  `json:"price"`
	}
	srv := fntest.NewServer(t)
	svc := runtime.NewService(runtime.ServiceConfig{Name: "count", Version: "1.0.0"})
	runtime.Endpoint(svc, "sum", func(ctx context.Context, in order) (map[string]int64, error) {
		total := in.Price
		for _, it := range in.Items {
			total += int64(it.Quantity)
		}
		return map[string]int64{"total": total}, nil
	})
	fntest.Run(t, srv, svc)
	nc := srv.Connect(t)
	for _, c := range []struct {
		body, want, code string
	}{
		{`{"items":[{"quantity":1}],"price":2}`, `{"total":3}`, ""},
		{`{"items":[{"quantity":1.0}],"price":2}`, `{"total":3}`, ""},
		{`{"items":[{"quantity":1e0},{"quantity":2.50e1}],"price":100E-2}`, `{"total":27}`, ""},
		{`{"items":[{"quantity":-3.000}],"price":1e18}`, `{"total":999999999999999997}`, ""},
		{`{"items":[{"quantity":1.5}],"price":2}`, "items.quantity", "400"},
		{`{"items":[{"quantity":1e-1}]}`, "items.quantity", "400"},
		{`{"items":[{"quantity":"1.0"}]}`, "items.quantity", "400"},
		{`{"price":1e30}`, "price", "400"},
	} {
		body, code := fntest.Request(t, nc, "count.sum", []byte(c.body))
		if code != c.code || !strings.Contains(string(body), c.want) {
			t.Errorf("%s: code %q body %s, want code %q and %s", c.body, code, body, c.code, c.want)
		}
	}
}

// TestCorrelationIDIsCapped: a request whose X-Correlation-ID is over 128
// bytes or not visible ASCII is a 400 naming the header; one of 128 is
// echoed. An event carrying a bad one is handled, and its emits carry a
// fresh id instead of the bad one.
func TestCorrelationIDIsCapped(t *testing.T) {
	srv := fntest.NewServer(t)
	svc := echoService(1)
	jobsStream(svc)
	runtime.OnEvent(svc, "relay", jobsIn, func(ctx context.Context, in event) error {
		return runtime.Emit(ctx, jobsOut, event{ID: in.ID})
	})
	fntest.Run(t, srv, svc)
	nc := srv.Connect(t)
	long := strings.Repeat("c", 128)
	for _, c := range []struct {
		id   string
		code string
	}{
		{long, ""},
		{long + "c", "400"},
		{"corr with spaces", "400"},
		{"corr-\x01", "400"},
		{"corr-é", "400"},
	} {
		msg := nats.NewMsg("echo.say")
		msg.Data = []byte(`{"msg":"hi"}`)
		msg.Header.Set(runtime.HeaderCorrelationID, c.id)
		reply, err := nc.RequestMsg(msg, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		code := reply.Header.Get(micro.ErrorCodeHeader)
		if code != c.code {
			t.Errorf("X-Correlation-ID of %d bytes %q: code %q, want %q", len(c.id), c.id, code, c.code)
			continue
		}
		if code == "" && reply.Header.Get(runtime.HeaderCorrelationID) != c.id {
			t.Errorf("a valid X-Correlation-ID is not echoed: %q", reply.Header.Get(runtime.HeaderCorrelationID))
		}
		if code == "400" {
			if desc := reply.Header.Get(micro.ErrorHeader); !strings.Contains(desc, runtime.HeaderCorrelationID) {
				t.Errorf("400 does not name the header: %q", desc)
			}
			if echoed := reply.Header.Get(runtime.HeaderCorrelationID); echoed == c.id {
				t.Errorf("the bad id is echoed back")
			}
		}
	}

	js := srv.JetStream(t)
	huge := strings.Repeat("x", 4000)
	ev := natsMsg(jobsIn.subject, `{"id":"e-1"}`)
	ev.Header.Set(runtime.HeaderCorrelationID, huge)
	if _, err := js.PublishMsg(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	fntest.Eventually(t, 20*time.Second, "the emitted event", func() bool { return subjectCount(t, js, "JOBS", jobsOut.subject) == 1 })
	out := fntest.Messages(t, js, "JOBS", jobsOut.subject)[0]
	if got := out.Header.Get(runtime.HeaderCorrelationID); got == huge || len(got) == 0 || len(got) > 128 {
		t.Fatalf("the emit's X-Correlation-ID is %d bytes, want a fresh id of at most 128", len(got))
	}
}

// TestUnavailableDescription: a 503 tells the caller what could not be
// done, not the client library's words; the cause is in the log line.
func TestUnavailableDescription(t *testing.T) {
	srv := fntest.NewServer(t)
	var logs fntest.Buffer
	nowhere := topic{subject: "jobs.nowhere", stream: "NOWHERE"}
	svc := runtime.NewService(runtime.ServiceConfig{Name: "emitter", Version: "1.0.0"})
	runtime.Endpoint(svc, "send", func(ctx context.Context, in event) (event, error) {
		return in, runtime.Emit(ctx, nowhere, in)
	})
	cfg := srv.Config("unavailable")
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	fntest.RunConfig(t, cfg, svc)
	nc := srv.Connect(t)
	reply, err := nc.Request("emitter.send", []byte(`{"id":"x"}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	const want = "jobs.nowhere could not be published; try again"
	if code, desc := reply.Header.Get(micro.ErrorCodeHeader), reply.Header.Get(micro.ErrorHeader); code != "503" || desc != want {
		t.Fatalf("reply %s %q, want 503 %q", code, desc, want)
	}
	var body runtime.ErrorBody
	if err := json.Unmarshal(reply.Data, &body); err != nil || body.Description != want || body.Error != "unavailable" {
		t.Fatalf("error body %s", reply.Data)
	}
	fntest.Eventually(t, 20*time.Second, "the cause in the log line", func() bool {
		return strings.Contains(logs.String(), `"error":"jobs.nowhere could not be published: nats: `)
	})
}
