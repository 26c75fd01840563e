package runtime_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// apiWrites records the JetStream API writes (stream and consumer creates
// and updates) a service's instances send, by their inbox prefix.
type apiWrites struct {
	mu     sync.Mutex
	writes []string
}

func watchWrites(t *testing.T, srv *fntest.Server, service string) *apiWrites {
	t.Helper()
	w := &apiWrites{}
	nc := srv.Connect(t)
	for _, subj := range []string{"$JS.API.STREAM.CREATE.>", "$JS.API.STREAM.UPDATE.>", "$JS.API.CONSUMER.CREATE.>",
		"$JS.API.CONSUMER.DURABLE.CREATE.>"} {
		if _, err := nc.Subscribe(subj, func(m *nats.Msg) {
			if strings.HasPrefix(m.Reply, "_INBOX_"+service+".") {
				w.mu.Lock()
				w.writes = append(w.writes, m.Subject)
				w.mu.Unlock()
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *apiWrites) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.writes
	w.writes = nil
	return out
}

// ensured declares a service with a stream, an event handler on it
// (so DEADLETTER and the replay consumer too) and MaxDeliver n.
func ensured(description string, maxDeliver int) *runtime.Service {
	svc := runtime.NewService(runtime.ServiceConfig{Name: "ensured", Version: "1.0.0"})
	svc.Stream(jetstream.StreamConfig{Name: "JOBS", Description: description,
		Subjects: []string{jobsIn.subject, jobsOut.subject, "jobs.other"}, Duplicates: 2 * time.Minute})
	runtime.OnEvent(svc, "work", jobsIn, func(context.Context, event) error { return nil }, runtime.MaxDeliver(maxDeliver))
	return svc
}

// TestRestartWritesNothing: the first instance makes its streams and
// consumers; one started on them as declared sends no create or update at
// all (each would be a write in the cluster's meta group), and one started
// with a changed declaration updates what changed.
func TestRestartWritesNothing(t *testing.T) {
	srv := fntest.NewServer(t)
	w := watchWrites(t, srv, "ensured")
	start := func(svc *runtime.Service) {
		t.Helper()
		inst := fntest.Run(t, srv, svc)
		if err := inst.Stop(); err != nil {
			t.Fatal(err)
		}
	}
	start(ensured("jobs", 3))
	first := w.take()
	for _, want := range []string{"STREAM.CREATE.JOBS", "STREAM.CREATE.DEADLETTER", "CONSUMER.CREATE.JOBS.ensured-work",
		"CONSUMER.CREATE.DEADLETTER.ensured-replay"} {
		if !containsPart(first, want) {
			t.Errorf("the first start did not send %s: %v", want, first)
		}
	}
	start(ensured("jobs", 3))
	if again := w.take(); len(again) != 0 {
		t.Fatalf("a second start as declared wrote %v, want nothing", again)
	}

	start(ensured("jobs, renamed", 4))
	changed := w.take()
	if !containsPart(changed, "STREAM.UPDATE.JOBS") || !containsPart(changed, "CONSUMER.CREATE.JOBS.ensured-work.jobs.created") ||
		len(changed) != 2 {
		t.Fatalf("a start with a new description and MaxDeliver wrote %v, want the JOBS update and the consumer's", changed)
	}
	js := srv.JetStream(t)
	cons, err := js.Consumer(context.Background(), "JOBS", "ensured-work")
	if err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(context.Background(), "JOBS")
	if err != nil {
		t.Fatal(err)
	}
	if cons.CachedInfo().Config.MaxDeliver != 4 || st.CachedInfo().Config.Description != "jobs, renamed" {
		t.Fatalf("consumer MaxDeliver %d, stream description %q", cons.CachedInfo().Config.MaxDeliver, st.CachedInfo().Config.Description)
	}
}

func containsPart(list []string, part string) bool {
	for _, s := range list {
		if strings.Contains(s, part) {
			return true
		}
	}
	return false
}
