package runtime_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/deadletter"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// jobsOther is a topic the test handlers do not declare.
var jobsOther = topic{subject: "jobs.other", stream: "JOBS"}

// TestEmitsDeclared: what a handler declares with Emits shows in its micro
// endpoint metadata and in Describe, and an emit of a topic it did not
// declare is refused as a bug (dead-lettered, nothing published).
func TestEmitsDeclared(t *testing.T) {
	srv := fntest.NewServer(t)
	svc := runtime.NewService(runtime.ServiceConfig{Name: "declared", Version: "1.0.0"})
	jobsStream(svc)
	runtime.OnEvent(svc, "relay", jobsIn, func(ctx context.Context, in event) error {
		if in.ID == "stray" {
			return runtime.Emit(ctx, jobsOther, event{ID: in.ID})
		}
		return runtime.Emit(ctx, jobsOut, event{ID: in.ID})
	}, runtime.Emits(jobsOut), runtime.MaxDeliver(1))
	runtime.Endpoint(svc, "ping", func(ctx context.Context, in struct{}) (struct{}, error) {
		return struct{}{}, nil
	}, runtime.Emits(jobsOut, jobsIn))

	d := svc.Describe()
	if got := d.EventHandlers[0].Emits; !slices.Equal(got, []string{"jobs.done"}) {
		t.Fatalf("Describe: relay emits %v", got)
	}
	if got := d.Endpoints[0].Emits; !slices.Equal(got, []string{"jobs.done", "jobs.created"}) {
		t.Fatalf("Describe: ping emits %v", got)
	}

	fntest.Run(t, srv, svc)
	nc := srv.Connect(t)
	m, err := nc.Request("$SRV.INFO.declared", nil, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var info micro.Info
	if err := json.Unmarshal(m.Data, &info); err != nil {
		t.Fatal(err)
	}
	emits := map[string]string{}
	for _, e := range info.Endpoints {
		emits[e.Name] = e.Metadata["emits"]
	}
	if emits["relay"] != "jobs.done" || emits["ping"] != "jobs.done,jobs.created" || emits["dlq-list"] != "" {
		t.Fatalf("micro metadata emits: %v", emits)
	}

	js := srv.JetStream(t)
	publish(t, js, jobsIn, event{ID: "ok"})
	publish(t, js, jobsIn, event{ID: "stray"})
	fntest.Eventually(t, 20*time.Second, "the declared emit stored and the stray one dead-lettered", func() bool {
		return subjectCount(t, js, "JOBS", jobsOut.subject) == 1 &&
			subjectCount(t, js, deadletter.Stream, "deadletter.declared.relay") == 1
	})
	if n := subjectCount(t, js, "JOBS", jobsOther.subject); n != 0 {
		t.Fatalf("%d undeclared events published", n)
	}
}
