package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestHandlerLogLines: a line a handler logs with its context, and the
// runtime's own line for a failed request, are JSON with trace_id, span_id,
// correlation_id, function and handler, each key once.
func TestHandlerLogLines(t *testing.T) {
	srv := fntest.NewServer(t)
	rec := newSpanRecorder(t)
	var buf syncBuffer
	svc := runtime.NewService(runtime.ServiceConfig{Name: "logger", Version: "1.0.0"})
	var logger *slog.Logger
	svc.OnStart(func(ctx context.Context, d runtime.Deps) error {
		logger = d.Logger
		return nil
	})
	runtime.Endpoint(svc, "work", func(ctx context.Context, in echoIn) (echoOut, error) {
		logger.InfoContext(ctx, "working", "msg_len", len(in.Msg))
		if in.Msg == "fail" {
			return echoOut{}, fmt.Errorf("nope: %w", runtime.ErrConflict)
		}
		return echoOut{Echo: in.Msg}, nil
	})
	cfg := srv.Config("logs")
	cfg.TracerProvider = rec
	cfg.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	fntest.RunConfig(t, cfg, svc)
	nc := srv.Connect(t)

	header, tid, _ := traceparent()
	msg := natsMsg("logger.work", `{"msg":"fail"}`)
	msg.Header["traceparent"] = []string{header}
	msg.Header.Set(runtime.HeaderCorrelationID, "corr-42")
	if _, err := nc.RequestMsg(msg, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	span := rec.one(t, "process logger.work")

	lines := map[string]string{}
	fntest.Eventually(t, 20*time.Second, "two log lines", func() bool {
		for _, line := range strings.Split(buf.String(), "\n") {
			var v map[string]any
			if json.Unmarshal([]byte(line), &v) == nil {
				if m, ok := v["msg"].(string); ok {
					lines[m] = line
				}
			}
		}
		return lines["working"] != "" && lines["handler failed"] != ""
	})
	for _, name := range []string{"working", "handler failed"} {
		line := lines[name]
		var v map[string]any
		_ = json.Unmarshal([]byte(line), &v)
		want := map[string]string{
			"trace_id":       tid.String(),
			"span_id":        span.SpanContext.SpanID().String(),
			"correlation_id": "corr-42",
			"function":       "logger",
			"handler":        "work",
		}
		for key, value := range want {
			if v[key] != value {
				t.Errorf("%q line: %s = %v, want %s\n%s", name, key, v[key], value, line)
			}
			if n := strings.Count(line, `"`+key+`":`); n != 1 {
				t.Errorf("%q line has %s %d times\n%s", name, key, n, line)
			}
		}
	}
}

// TestGracefulStopLogsNoWarning: a stop closes the connection on purpose;
// the log says so at info, with no "disconnected" warning, which operators
// alert on.
func TestGracefulStopLogsNoWarning(t *testing.T) {
	srv := fntest.NewServer(t)
	var buf syncBuffer
	svc := runtime.NewService(runtime.ServiceConfig{Name: "quiet", Version: "1.0.0"})
	runtime.Endpoint(svc, "work", func(ctx context.Context, in echoIn) (echoOut, error) { return echoOut{Echo: in.Msg}, nil })
	cfg := srv.Config("quiet")
	cfg.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	inst, err := runtime.Start(t.Context(), cfg, svc)
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}
	fntest.Eventually(t, 20*time.Second, "the closed line", func() bool { return strings.Contains(buf.String(), "NATS connection closed") })
	for _, line := range strings.Split(buf.String(), "\n") {
		if strings.Contains(line, `"level":"WARN"`) {
			t.Errorf("a graceful stop logged a warning: %s", line)
		}
	}
}

// TestStartLogsStartup: "service started" says how long the start took,
// from the call of Start, so an operator sees a slow start in the log; a
// slow OnStart hook is in it.
func TestStartLogsStartup(t *testing.T) {
	srv := fntest.NewServer(t)
	var buf syncBuffer
	svc := runtime.NewService(runtime.ServiceConfig{Name: "timed", Version: "1.0.0"})
	const hook = 50 * time.Millisecond
	svc.OnStart(func(context.Context, runtime.Deps) error {
		time.Sleep(hook)
		return nil
	})
	runtime.Endpoint(svc, "work", func(ctx context.Context, in echoIn) (echoOut, error) { return echoOut{Echo: in.Msg}, nil })
	cfg := srv.Config("timed")
	cfg.Logger = slog.New(slog.NewJSONHandler(&buf, nil))
	called := time.Now()
	inst, err := runtime.Start(t.Context(), cfg, svc)
	took := time.Since(called)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = inst.Stop() })
	var line map[string]any
	for _, l := range strings.Split(buf.String(), "\n") {
		var v map[string]any
		if json.Unmarshal([]byte(l), &v) == nil && v["msg"] == "service started" {
			line = v
		}
	}
	if line == nil {
		t.Fatalf("no \"service started\" line in:\n%s", buf.String())
	}
	ns, ok := line["startup"].(float64)
	if !ok {
		t.Fatalf("\"service started\" has no startup duration: %v", line)
	}
	if startup := time.Duration(ns); startup < hook || startup > took {
		t.Fatalf("startup %v: want from the OnStart hook's %v to Start's own %v", startup, hook, took)
	}
}
