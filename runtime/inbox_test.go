package runtime_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestInboxPrefix: a function's replies arrive on _INBOX_<function>.>, so
// its NATS user may be denied everyone else's _INBOX.>. Here the user is:
// the function still creates its stream, opens and watches a bucket,
// answers requests that read and write it, consumes and emits; and every
// inbox it subscribes to carries its prefix.
func TestInboxPrefix(t *testing.T) {
	srv := serverWith(t, server.Options{
		Users: []*server.User{
			{Username: "admin", Password: "admin"},
			{Username: "fn", Password: "fn", Permissions: &server.Permissions{
				Publish:   &server.SubjectPermission{Allow: []string{">"}},
				Subscribe: &server.SubjectPermission{Allow: []string{">"}, Deny: []string{"_INBOX.>"}},
			}},
		},
	})

	var kv jetstream.KeyValue
	svc := runtime.NewService(runtime.ServiceConfig{Name: "inboxfn", Version: "1.0.0"})
	jobsStream(svc)
	svc.OnStart(func(ctx context.Context, d runtime.Deps) error {
		var err error
		if kv, err = d.JetStream.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "inboxfn"}); err != nil {
			return err
		}
		w, err := kv.WatchAll(ctx)
		if err != nil {
			return err
		}
		defer w.Stop()
		for e := range w.Updates() {
			if e == nil {
				return nil
			}
		}
		return nil
	})
	runtime.Endpoint(svc, "put", func(ctx context.Context, in echoIn) (echoOut, error) {
		if _, err := kv.Put(ctx, "k", []byte(in.Msg)); err != nil {
			return echoOut{}, runtime.Unavailable(err, "k could not be written")
		}
		e, err := kv.Get(ctx, "k")
		if err != nil {
			return echoOut{}, runtime.Unavailable(err, "k could not be read")
		}
		return echoOut{Echo: string(e.Value())}, nil
	}, runtime.WithTimeout(3*time.Second))
	runtime.OnEvent(svc, "relay", jobsIn, func(ctx context.Context, in event) error {
		return runtime.Emit(ctx, jobsOut, event{ID: in.ID})
	})
	cfg := runtime.Config{NATSURL: srv.ClientURL(), User: "fn", Password: "fn", InstanceID: "i1",
		ConnectTimeout: 5 * time.Second, ShutdownTimeout: 5 * time.Second, Logger: quietLogger()}
	fntest.RunConfig(t, cfg, svc)

	admin, err := nats.Connect(srv.ClientURL(), nats.UserInfo("admin", "admin"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	reply, err := admin.Request("inboxfn.put", []byte(`{"msg":"v1"}`), 5*time.Second)
	if err != nil || string(reply.Data) != `{"echo":"v1"}` {
		t.Fatalf("inboxfn.put: %v %q %v", err, reply.Data, reply.Header)
	}
	js, _ := jetstream.New(admin)
	publish(t, js, jobsIn, event{ID: "e-1"})
	fntest.Eventually(t, 10*time.Second, "the emitted event", func() bool { return subjectCount(t, js, "JOBS", jobsOut.subject) == 1 })

	conns, err := srv.Connz(&server.ConnzOptions{Subscriptions: true})
	if err != nil {
		t.Fatal(err)
	}
	inboxes := 0
	for _, c := range conns.Conns {
		if c.Name != "inboxfn/i1" {
			continue
		}
		for _, sub := range c.Subs {
			if strings.HasPrefix(sub, "_INBOX") {
				inboxes++
				if !strings.HasPrefix(sub, "_INBOX_inboxfn.") {
					t.Errorf("inbox subscription %q lacks the function's prefix", sub)
				}
			}
		}
	}
	if inboxes == 0 {
		t.Fatal("the function's connection has no inbox subscription to check")
	}
}
