package runtime_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestNatsCLI runs the real nats CLI: `nats micro ls` lists the function and
// `nats micro stats` shows the event handler's figures.
func TestNatsCLI(t *testing.T) {
	srv := fntest.NewServer(t)
	svc := runtime.NewService(runtime.ServiceConfig{Name: "cli-demo", Version: "2.1.0", Description: "CLI demo function"})
	jobsStream(svc)
	runtime.Endpoint(svc, "hello", func(ctx context.Context, in echoIn) (echoOut, error) {
		return echoOut{Echo: "hello " + in.Msg}, nil
	})
	runtime.OnEvent(svc, "count", jobsIn, func(ctx context.Context, in event) error {
		return nil
	})
	fntest.Run(t, srv, svc)
	js := srv.JetStream(t)
	for range 7 {
		publish(t, js, jobsIn, event{ID: "x"})
	}

	ls := srv.Nats(t, "micro", "ls")
	for _, want := range []string{"cli-demo", "2.1.0", "CLI demo function"} {
		if !strings.Contains(ls, want) {
			t.Fatalf("nats micro ls lacks %q:\n%s", want, ls)
		}
	}
	reply := srv.Nats(t, "req", "cli-demo.hello", `{"msg":"cli"}`)
	if !strings.Contains(reply, `"echo":"hello cli"`) {
		t.Fatalf("nats req:\n%s", reply)
	}

	var stats []struct {
		Endpoints []struct {
			Name        string                `json:"name"`
			NumRequests int                   `json:"num_requests"`
			Data        *runtime.EventFigures `json:"data"`
		} `json:"endpoints"`
	}
	fntest.Eventually(t, 10*time.Second, "7 acked events in nats micro stats", func() bool {
		out := srv.Nats(t, "micro", "stats", "cli-demo", "--json")
		stats = nil
		if err := json.Unmarshal([]byte(out), &stats); err != nil || len(stats) != 1 {
			return false
		}
		for _, e := range stats[0].Endpoints {
			if e.Name == "count" && e.Data != nil && e.Data.Acked == 7 && e.Data.Delivered == 7 {
				return true
			}
		}
		return false
	})
	table := srv.Nats(t, "micro", "stats", "cli-demo")
	if !strings.Contains(table, "count") || !strings.Contains(table, "hello") {
		t.Fatalf("nats micro stats table lacks the endpoints:\n%s", table)
	}
}
