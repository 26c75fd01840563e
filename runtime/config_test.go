package runtime_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/natsfn/natsfn/runtime"
)

func TestLoadConfigNamesTheVariable(t *testing.T) {
	cases := []struct{ name, key, value string }{
		{"replicas not a number", "NATSFN_REPLICAS", "three"},
		{"replicas out of range", "NATSFN_REPLICAS", "9"},
		{"ack wait not a duration", "NATSFN_ACK_WAIT", "30"},
		{"ack wait too short", "NATSFN_ACK_WAIT", "10ms"},
		{"log level", "NATSFN_LOG_LEVEL", "loud"},
		{"log format", "NATSFN_LOG_FORMAT", "xml"},
		{"shutdown timeout", "NATSFN_SHUTDOWN_TIMEOUT", "soon"},
		{"ops addr", "NATSFN_OPS_ADDR", "8080"},
		{"url", "NATS_URL", "not a url"},
		{"creds file", "NATS_CREDS", "/nonexistent/user.creds"},
		{"password without user", "NATS_PASSWORD", "secret"},
		{"traces exporter", "OTEL_TRACES_EXPORTER", "zipkin"},
		{"natsfn traces", "NATSFN_TRACES", "loud"},
		{"otlp endpoint", "OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318"},
		{"otlp traces endpoint", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "grpc://collector:4317"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(c.key, c.value)
			_, err := runtime.LoadConfig()
			if err == nil {
				t.Fatalf("%s=%q accepted", c.key, c.value)
			}
			if !errors.Is(err, runtime.ErrConfigValidation) {
				t.Errorf("error %v does not wrap ErrConfigValidation", err)
			}
			want := c.key
			if c.key == "NATS_PASSWORD" {
				want = "NATS_USER"
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("error %q does not name %s", err, want)
			}
		})
	}
}

func TestLoadConfigDefaults(t *testing.T) {
	t.Setenv("NATSFN_INSTANCE_ID", "i-7")
	cfg, err := runtime.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.NATSURL != "nats://127.0.0.1:4222" || cfg.Replicas != 1 || cfg.InstanceID != "i-7" || cfg.OpsAddr != ":8080" {
		t.Fatalf("defaults %+v", cfg)
	}
}

func TestBadServiceDeclarations(t *testing.T) {
	srv := newServer(t)
	cfg := srv.Config("x")
	for name, svc := range map[string]*runtime.Service{
		"bad name":    runtime.NewService(runtime.ServiceConfig{Name: "no spaces", Version: "1.0.0"}),
		"bad version": runtime.NewService(runtime.ServiceConfig{Name: "ok", Version: "v1"}),
	} {
		if err := runtime.Run(t.Context(), cfg, svc); !errors.Is(err, runtime.ErrConfigValidation) {
			t.Errorf("%s: Run returned %v", name, err)
		}
	}
}
