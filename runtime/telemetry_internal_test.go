package runtime

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

// TestNewTracerProviderFromConfig: nothing configured means no tracing;
// each exporter setting yields a provider.
func TestNewTracerProviderFromConfig(t *testing.T) {
	ctx := context.Background()
	svc := ServiceConfig{Name: "cfg", Version: "1.0.0"}
	for _, c := range []struct {
		name string
		cfg  Config
		on   bool
	}{
		{"nothing", Config{}, false},
		{"none", Config{TracesExporter: "none", OTLPEndpoint: "http://127.0.0.1:1"}, false},
		{"sdk disabled", Config{OTelDisabled: true, OTLPEndpoint: "http://127.0.0.1:1"}, false},
		{"natsfn off", Config{Traces: "off", TracesExporter: "console"}, false},
		{"console", Config{TracesExporter: "console"}, true},
		{"stdout", Config{Traces: "stdout"}, true},
		{"otlp endpoint", Config{OTLPEndpoint: "http://127.0.0.1:1"}, true},
		{"otlp traces endpoint", Config{OTLPTracesEndpoint: "http://127.0.0.1:1/v1/traces"}, true},
		{"otlp default endpoint", Config{TracesExporter: "otlp"}, true},
	} {
		tp, _, _, err := newTracerProvider(ctx, c.cfg, svc, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if (tp != nil) != c.on {
			t.Errorf("%s: provider %v, want tracing on=%v", c.name, tp, c.on)
		}
		if tp != nil {
			_ = tp.Shutdown(ctx)
		}
	}
}

// TestSamplerFromConfig: OTEL_TRACES_SAMPLER (Config.TracesSampler) picks
// the sampler; an unknown one or a bad ratio is a config error naming the
// variable.
func TestSamplerFromConfig(t *testing.T) {
	tp, _, lean, err := newTracerProvider(context.Background(), Config{TracesExporter: "console", TracesSampler: "always_off"},
		ServiceConfig{Name: "sampled", Version: "1.0.0"}, slog.New(slog.DiscardHandler))
	if err != nil || tp == nil {
		t.Fatalf("provider %v, %v", tp, err)
	}
	defer tp.Shutdown(context.Background())
	_, span := tp.Tracer("test").Start(context.Background(), "dropped")
	defer span.End()
	if span.IsRecording() || span.SpanContext().IsSampled() {
		t.Fatal("always_off sampler ignored")
	}
	_, own := lean.start(context.Background(), "process x", trace.SpanKindServer, nil)
	defer own.End()
	if own.IsRecording() || own.SpanContext().IsSampled() || !own.SpanContext().IsValid() {
		t.Fatal("the runtime's own spans ignore the always_off sampler")
	}
	for _, c := range []struct{ sampler, arg, variable string }{
		{"sometimes", "", "OTEL_TRACES_SAMPLER"},
		{"traceidratio", "2", "OTEL_TRACES_SAMPLER_ARG"},
		{"parentbased_traceidratio", "half", "OTEL_TRACES_SAMPLER_ARG"},
	} {
		cfg := Config{TracesSampler: c.sampler, TracesSamplerArg: c.arg}
		err := cfg.Validate()
		if !errors.Is(err, ErrConfigValidation) || !strings.Contains(err.Error(), c.variable) {
			t.Errorf("sampler %q arg %q: %v, want a config error naming %s", c.sampler, c.arg, err, c.variable)
		}
	}
}
