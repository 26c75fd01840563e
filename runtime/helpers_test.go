package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// topic is a test event type with a tiny schema: a JSON object with an "id".
type topic struct{ subject, stream string }

func (t topic) ID() string      { return t.subject + ".v1" }
func (t topic) Subject() string { return t.subject }
func (t topic) Stream() string  { return t.stream }
func (t topic) Validate(doc []byte) error {
	var v map[string]any
	if err := json.Unmarshal(doc, &v); err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	if _, ok := v["id"].(string); !ok {
		return errors.New("at '/id': required string")
	}
	return nil
}

// echoSchema requires {"msg": string}.
type echoSchema struct{}

func (echoSchema) ID() string { return "echo.request.v1" }
func (echoSchema) Validate(doc []byte) error {
	var v map[string]any
	if err := json.Unmarshal(doc, &v); err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	if _, ok := v["msg"].(string); !ok {
		return errors.New("at '/msg': required string")
	}
	return nil
}

type event struct {
	ID string `json:"id"`
	N  int    `json:"n,omitempty"`
}

var (
	jobsIn  = topic{subject: "jobs.created", stream: "JOBS"}
	jobsOut = topic{subject: "jobs.done", stream: "JOBS"}
)

// jobsStream declares the test stream on a service.
func jobsStream(svc *runtime.Service) {
	svc.Stream(jetstream.StreamConfig{
		Name:       "JOBS",
		Subjects:   []string{jobsIn.subject, jobsOut.subject, "jobs.other"},
		Duplicates: 2 * time.Minute,
	})
}

// publish publishes an event with a message id.
func publish(t *testing.T, js jetstream.JetStream, tp topic, v any) {
	t.Helper()
	data, _ := json.Marshal(v)
	msg := &nats.Msg{Subject: tp.subject, Data: data, Header: nats.Header{}}
	if _, err := js.PublishMsg(context.Background(), msg); err != nil {
		t.Fatalf("publish %s: %v", tp.subject, err)
	}
}

// subjectCount returns how many messages a stream holds on a subject.
func subjectCount(t *testing.T, js jetstream.JetStream, stream, subject string) uint64 {
	t.Helper()
	st, err := js.Stream(context.Background(), stream)
	if err != nil {
		return 0
	}
	info, err := st.Info(context.Background(), jetstream.WithSubjectFilter(subject))
	if err != nil {
		t.Fatalf("stream info: %v", err)
	}
	return info.State.Subjects[subject]
}

func newServer(t *testing.T) *fntest.Server { return fntest.NewServer(t) }

func natsMsg(subject, body string) *nats.Msg {
	m := nats.NewMsg(subject)
	m.Data = []byte(body)
	return m
}

// quietLogger discards what it is given (NATSFN_TEST_LOGS=1 is for fntest's configs).
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// serverWith starts an in-process nats-server with JetStream on a free
// loopback port with o's users, permissions or TLS, stopped when the test
// ends.
func serverWith(t *testing.T, o server.Options) *server.Server {
	t.Helper()
	o.Host, o.Port, o.JetStream, o.StoreDir, o.NoLog, o.NoSigs = "127.0.0.1", -1, true, t.TempDir(), true, true
	s, err := server.NewServer(&o)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s
}
