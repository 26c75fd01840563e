package runtime_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestEndpointMetrics: successes and errors are counted by outcome and
// code, and each call is timed.
func TestEndpointMetrics(t *testing.T) {
	srv := fntest.NewServer(t)
	mr := newMetrics(t)
	cfg := srv.Config("metrics")
	cfg.MeterProvider = mr
	fntest.RunConfig(t, cfg, echoService(4))
	nc := srv.Connect(t)
	for _, body := range []string{`{"msg":"a"}`, `{"msg":"b"}`, `{"msg":"c"}`, `{"msg":"missing"}`, `{"msg":"boom"}`, `{"nope":1}`} {
		if _, err := nc.Request("echo.say", []byte(body), 2*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	say := []string{"function", "echo", "handler", "say", "kind", "request"}
	for _, c := range []struct {
		name   string
		labels []string
		want   int64
	}{
		{"natsfn.handled", []string{"outcome", "ok"}, 3},
		{"natsfn.handled", []string{"outcome", "error"}, 3},
		{"natsfn.handler.errors", []string{"code", "404"}, 1},
		{"natsfn.handler.errors", []string{"code", "500"}, 1},
		{"natsfn.handler.errors", []string{"code", "400"}, 1},
		{"natsfn.handler.duration", nil, 6},
		{"natsfn.nats.connected", []string{"function", "echo"}, 1},
		{"natsfn.handler.in_flight", nil, 0},
	} {
		labels := c.labels
		if c.name != "natsfn.nats.connected" {
			labels = append(append([]string(nil), say...), c.labels...)
		}
		// The endpoint's figures are recorded after the reply is sent.
		fntest.Eventually(t, 20*time.Second, fmt.Sprintf("%s%v = %d", c.name, c.labels, c.want), func() bool {
			return value(mr, c.name, labels...) == c.want
		})
	}
}

// TestEventMetrics: redeliveries, naks, acks, terminations and dead letters
// are counted per handler, and a function's own gauge is reported.
func TestEventMetrics(t *testing.T) {
	srv := fntest.NewServer(t)
	mr := newMetrics(t)
	var calls atomic.Int64
	svc := runtime.NewService(runtime.ServiceConfig{Name: "worker", Version: "1.0.0"})
	jobsStream(svc)
	runtime.OnEvent(svc, "flaky", jobsIn, func(ctx context.Context, in event) error {
		if calls.Add(1) <= 2 {
			return fmt.Errorf("database down: %w", runtime.ErrUnavailable)
		}
		return nil
	}, runtime.BackOff(20*time.Millisecond))
	runtime.OnEvent(svc, "strict", jobsIn, func(ctx context.Context, in event) error {
		return fmt.Errorf("job %s: %w", in.ID, runtime.ErrInvalid)
	})
	runtime.OnEvent(svc, "doomed", jobsOut, func(ctx context.Context, in event) error {
		return fmt.Errorf("always down: %w", runtime.ErrUnavailable)
	}, runtime.MaxDeliver(2), runtime.BackOff(20*time.Millisecond))
	var breaker atomic.Int64
	breaker.Store(2)
	svc.Gauge("worker.breaker.state", "0 closed, 1 half-open, 2 open.", breaker.Load)
	cfg := srv.Config("metrics")
	cfg.MeterProvider = mr
	fntest.RunConfig(t, cfg, svc)
	js := srv.JetStream(t)
	publish(t, js, jobsIn, event{ID: "j1"})
	publish(t, js, jobsOut, event{ID: "j2"})

	labels := func(handler string, kv ...string) []string {
		return append([]string{"function", "worker", "handler", handler}, kv...)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   int64
	}{
		{"natsfn.event.redeliveries", labels("flaky"), 2},
		{"natsfn.event.settled", labels("flaky", "action", "nak"), 2},
		{"natsfn.event.settled", labels("flaky", "action", "ack"), 1},
		{"natsfn.handled", labels("flaky", "kind", "event", "outcome", "error"), 2},
		{"natsfn.handler.errors", labels("flaky", "code", "503"), 2},
		{"natsfn.event.settled", labels("strict", "action", "term"), 1},
		{"natsfn.dead_letters", labels("strict"), 1},
		{"natsfn.event.redeliveries", labels("strict"), 0},
		{"natsfn.event.settled", labels("doomed", "action", "nak"), 1},
		{"natsfn.event.settled", labels("doomed", "action", "term"), 1},
		{"natsfn.dead_letters", labels("doomed"), 1},
		{"worker.breaker.state", []string{"function", "worker"}, 2},
	} {
		fntest.Eventually(t, 20*time.Second, fmt.Sprintf("%s%v = %d", c.name, c.labels, c.want), func() bool {
			return value(mr, c.name, c.labels...) == c.want
		})
	}
}
