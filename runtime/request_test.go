package runtime_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestResendAfterALostReply: a callee that loses its connection between a
// request and its reply cannot answer it (its user answers through
// allow_responses, and the server refuses a reply sent on the new
// connection to a request received on the old one: drill a's payments
// waited its whole 20 s bound on orders.get that way). Request without
// Resend waits for its deadline and fails; with Resend it asks again after
// the silence and has the answer from the second request.
func TestResendAfterALostReply(t *testing.T) {
	srv := serverWith(t, server.Options{
		NoAuthUser: "caller",
		Users: []*server.User{
			{Username: "caller", Password: "caller"},
			{Username: "callee", Password: "callee", Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{"nothing.here"}},
				Subscribe: &server.SubjectPermission{Allow: []string{"lookup.get"}},
				Response:  &server.ResponsePermission{MaxMsgs: 1},
			}},
		},
	})

	// The callee drops its connection before it answers every other
	// request, then answers it on the new one.
	reconnected := make(chan struct{}, 1)
	refused := make(chan string, 16)
	callee, err := nats.Connect(srv.ClientURL(), nats.UserInfo("callee", "callee"), nats.ReconnectWait(20*time.Millisecond),
		nats.ReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) {
				refused <- err.Error()
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(callee.Close)
	var received atomic.Int32
	if _, err := callee.Subscribe("lookup.get", func(m *nats.Msg) {
		if received.Add(1)%2 == 1 {
			cid, err := callee.GetClientID()
			if err != nil {
				t.Error(err)
				return
			}
			if err := srv.DisconnectClientByID(cid); err != nil {
				t.Error(err)
				return
			}
			select {
			case <-reconnected:
			case <-time.After(5 * time.Second):
				t.Error("the callee did not reconnect within 5s")
				return
			}
		}
		_ = m.Respond([]byte(`{"echo":"found"}`))
	}); err != nil {
		t.Fatal(err)
	}
	if err := callee.Flush(); err != nil {
		t.Fatal(err)
	}

	svc := runtime.NewService(runtime.ServiceConfig{Name: "asker", Version: "1.0.0"})
	ask := func(opts ...runtime.RequestOption) func(context.Context, echoIn) (echoOut, error) {
		return func(ctx context.Context, _ echoIn) (echoOut, error) {
			return runtime.Request[echoOut](ctx, "lookup.get", echoIn{Msg: "k"}, opts...)
		}
	}
	runtime.Endpoint(svc, "once", ask(), runtime.WithTimeout(1500*time.Millisecond))
	runtime.Endpoint(svc, "resend", ask(runtime.Resend(300*time.Millisecond)), runtime.WithTimeout(1500*time.Millisecond))
	fntest.RunConfig(t, runtime.Config{NATSURL: srv.ClientURL(), InstanceID: "i1",
		ConnectTimeout: 5 * time.Second, ShutdownTimeout: 5 * time.Second, Logger: quietLogger()}, svc)
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)

	start := time.Now()
	reply, err := nc.Request("asker.once", []byte(`{"msg":"k"}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code := reply.Header.Get("Nats-Service-Error-Code"); code != "503" || time.Since(start) < time.Second {
		t.Fatalf("without Resend: %q (code %q) after %s; want a 503 at the 1.5s bound", reply.Data, code, time.Since(start))
	}
	select {
	case v := <-refused:
		if !strings.Contains(v, "Publish") {
			t.Fatalf("the callee's violation: %s", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server did not refuse the reply sent on the callee's new connection")
	}
	if n := received.Load(); n != 1 {
		t.Fatalf("without Resend the callee got %d requests, want 1", n)
	}

	received.Store(0)
	start = time.Now()
	reply, err = nc.Request("asker.resend", []byte(`{"msg":"k"}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if string(reply.Data) != `{"echo":"found"}` {
		t.Fatalf("with Resend: %q %v after %s; want the second request's answer", reply.Data, reply.Header, time.Since(start))
	}
	if n := received.Load(); n != 2 {
		t.Fatalf("with Resend the callee got %d requests, want 2", n)
	}
}

// TestResendBacksOff: a callee that never answers within the silence (busy,
// not deaf) gets each resend after twice the silence before: within a
// 1.5 s bound and Resend(200ms), requests at 0, 0.2, 0.6 and 1.4 s, where
// a resend every 200ms would have sent seven.
func TestResendBacksOff(t *testing.T) {
	srv := fntest.NewServer(t)
	nc := srv.Connect(t)
	var received atomic.Int32
	if _, err := nc.Subscribe("slow.get", func(*nats.Msg) { received.Add(1) }); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	svc := runtime.NewService(runtime.ServiceConfig{Name: "asker", Version: "1.0.0"})
	runtime.Endpoint(svc, "ask", func(ctx context.Context, _ echoIn) (echoOut, error) {
		return runtime.Request[echoOut](ctx, "slow.get", echoIn{Msg: "k"}, runtime.Resend(200*time.Millisecond))
	}, runtime.WithTimeout(1500*time.Millisecond))
	fntest.Run(t, srv, svc)
	reply, err := nc.Request("asker.ask", []byte(`{"msg":"k"}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if code := reply.Header.Get("Nats-Service-Error-Code"); code != "503" {
		t.Fatalf("asker.ask: %q (code %q), want a 503 at the bound", reply.Data, code)
	}
	if n := received.Load(); n < 2 || n > 4 {
		t.Fatalf("the silent callee got %d requests in 1.5s with Resend(200ms), want 2 to 4 (0, 0.2, 0.6, 1.4 s)", n)
	}
}
