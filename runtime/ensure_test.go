package runtime_test

import (
	"context"
	"errors"
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

// TestStreamRetention: an event stream the declaration leaves unbounded
// gets NATSFN_STREAM_MAX_AGE and _MAX_BYTES, DEADLETTER gets the dead
// letter limits, a declaration's own limit stays, and a bad limit is a
// config error naming its variable.
func TestStreamRetention(t *testing.T) {
	srv := fntest.NewServer(t)
	svc := ensured("jobs", 3)
	svc.Stream(jetstream.StreamConfig{Name: "OWN", Subjects: []string{"own.>"}, MaxAge: time.Hour})
	cfg := srv.Config(t.Name())
	cfg.StreamMaxBytes = 64 << 20
	cfg.DeadLetterMaxAge = 48 * time.Hour
	fntest.RunConfig(t, cfg, svc)
	js, err := jetstream.New(srv.Connect(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		stream string
		age    time.Duration
		bytes  int64
	}{
		{"JOBS", 7 * 24 * time.Hour, 64 << 20},
		{"OWN", time.Hour, 64 << 20},
		{"DEADLETTER", 48 * time.Hour, 256 << 20},
	} {
		st, err := js.Stream(t.Context(), c.stream)
		if err != nil {
			t.Fatal(err)
		}
		if got := st.CachedInfo().Config; got.MaxAge != c.age || got.MaxBytes != c.bytes {
			t.Errorf("%s: MaxAge %s MaxBytes %d, want %s and %d", c.stream, got.MaxAge, got.MaxBytes, c.age, c.bytes)
		}
	}
	for key, value := range map[string]string{"NATSFN_STREAM_MAX_AGE": "1m", "NATSFN_DEADLETTER_MAX_BYTES": "1000",
		"NATSFN_STREAM_MAX_BYTES": "lots"} {
		t.Run(key, func(t *testing.T) {
			t.Setenv(key, value)
			if _, err := runtime.LoadConfig(); !errors.Is(err, runtime.ErrConfigValidation) || !strings.Contains(err.Error(), key) {
				t.Fatalf("%s=%s: %v, want an error naming the variable", key, value, err)
			}
		})
	}
}
