package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/natsfn/natsfn/runtime/internal/otlp"
	"github.com/natsfn/natsfn/runtime/internal/promtext"
	"github.com/natsfn/natsfn/runtime/internal/spanbatch"
)

// instrumentationName is the scope of every span and metric the runtime makes.
const instrumentationName = "github.com/natsfn/natsfn/runtime"

// newTracerProvider builds the tracer provider cfg asks for, for one
// function: OTLP over HTTP when an OTLP endpoint is set (or
// OTEL_TRACES_EXPORTER=otlp), stdout for OTEL_TRACES_EXPORTER=console or
// NATSFN_TRACES=stdout, and nil when nothing asks for traces. Spans are
// batched by the runtime's span batcher (returned for its counts), whose
// failed exports are logged to logger; Shutdown flushes them.
//
// It also returns what starts the runtime's own spans with the provider's
// sampler and batcher (leanSpans).
func newTracerProvider(ctx context.Context, cfg Config, svc ServiceConfig, logger *slog.Logger) (*sdktrace.TracerProvider, *spanbatch.Batcher, *leanSpans, error) {
	exp := cfg.spanExporter
	var err error
	switch cfg.tracesExporter() {
	case "":
		if exp == nil {
			return nil, nil, nil, nil
		}
	case "console":
		exp, err = stdouttrace.New()
	case "otlp":
		var s otlp.Settings
		if s, err = cfg.otlpSettings(); err == nil {
			exp = otlp.NewExporter(s)
		}
	}
	if err != nil {
		return nil, nil, nil, fmt.Errorf("trace exporter: %w", err)
	}
	res, err := serviceResource(ctx, cfg, svc.Name, svc.Version)
	if err != nil {
		return nil, nil, nil, err
	}
	sampler, err := cfg.sampler()
	if err != nil {
		return nil, nil, nil, err
	}
	bo := cfg.batchOptions()
	bo.Failed = newExportLog(logger.With("function", svc.Name), time.Minute).failed
	batcher := spanbatch.New(exp, bo)
	opts := []sdktrace.TracerProviderOption{sdktrace.WithSpanProcessor(batcher), sdktrace.WithResource(res)}
	if sampler != nil {
		opts = append(opts, sdktrace.WithSampler(sampler))
	} else {
		sampler = sdktrace.ParentBased(sdktrace.AlwaysSample()) // the SDK's default
	}
	tp := sdktrace.NewTracerProvider(opts...)
	// The resource as WithResource makes it.
	full, err := resource.Merge(resource.Environment(), res)
	if err != nil {
		full = res
	}
	lean := &leanSpans{provider: tp, sampler: sampler, proc: batcher, res: full,
		scope: instrumentation.Scope{Name: instrumentationName}}
	return tp, batcher, lean, nil
}

// serviceResource describes the process to a backend: the service's name
// and version and the instance, then OTEL_RESOURCE_ATTRIBUTES, then
// OTEL_SERVICE_NAME, each winning over what comes before.
func serviceResource(ctx context.Context, cfg Config, name, version string) (*resource.Resource, error) {
	attrs := []attribute.KeyValue{semconv.ServiceName(name), semconv.ServiceInstanceID(cfg.InstanceID)}
	if version != "" {
		attrs = append(attrs, semconv.ServiceVersion(version))
	}
	for k, v := range otlp.ParseList(cfg.ResourceAttributes) {
		attrs = append(attrs, attribute.String(k, v))
	}
	if cfg.ServiceName != "" {
		attrs = append(attrs, semconv.ServiceName(cfg.ServiceName))
	}
	res, err := resource.New(ctx, resource.WithAttributes(attrs...), resource.WithTelemetrySDK())
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	return res, nil
}

// telemetry is what Start sets up once for the instance: each service's
// tracer, the metric instruments, the /metrics handler, and the shutdown of
// whatever Start itself created.
type telemetry struct {
	tracers  []trace.Tracer       // one per service, in Start's order; nil: tracing off
	spans    []spanStarter        // the runtime's own spans, per service likewise
	batchers []*spanbatch.Batcher // the same, for the providers Start built
	metrics  *instruments         // nil: metrics off
	handler  http.Handler         // /metrics; nil unless Start owns the meter provider
	shutdown []func(context.Context) error
}

func newTelemetry(ctx context.Context, cfg Config, services []*Service, logger *slog.Logger) (*telemetry, error) {
	t := &telemetry{tracers: make([]trace.Tracer, len(services)), spans: make([]spanStarter, len(services)),
		batchers: make([]*spanbatch.Batcher, len(services))}
	if err := t.setupTracing(ctx, cfg, services, logger); err != nil {
		_ = t.close()
		return nil, err
	}
	if err := t.setupMetrics(ctx, cfg, services); err != nil {
		_ = t.close()
		return nil, err
	}
	if err := t.measureSpans(services); err != nil {
		_ = t.close()
		return nil, err
	}
	return t, nil
}

func (t *telemetry) setupTracing(ctx context.Context, cfg Config, services []*Service, logger *slog.Logger) error {
	if cfg.TracerProvider != nil {
		if _, off := cfg.TracerProvider.(tracenoop.TracerProvider); off {
			return nil
		}
		tr := cfg.TracerProvider.Tracer(instrumentationName)
		for i := range services {
			t.tracers[i], t.spans[i] = tr, sdkSpans{tr}
		}
		return nil
	}
	for i, s := range services {
		tp, batcher, lean, err := newTracerProvider(ctx, cfg, s.cfg, logger)
		if err != nil {
			return fmt.Errorf("service %s: %w", s.cfg.Name, err)
		}
		if tp == nil {
			return nil // one config: off for every service
		}
		t.shutdown = append(t.shutdown, tp.Shutdown)
		t.tracers[i], t.spans[i], t.batchers[i] = tp.Tracer(instrumentationName), lean, batcher
	}
	return nil
}

// setupMetrics uses the config's meter provider, or builds one served in
// Prometheus's text format on /metrics (internal/promtext) when the ops
// port is on.
func (t *telemetry) setupMetrics(ctx context.Context, cfg Config, services []*Service) error {
	mp := cfg.MeterProvider
	if mp == nil {
		if cfg.OpsAddr == "" || cfg.OpsAddr == "off" {
			return nil
		}
		name := "natsfn"
		if len(services) == 1 {
			name = services[0].cfg.Name
		}
		res, err := serviceResource(ctx, cfg, name, "")
		if err != nil {
			return err
		}
		reader := sdkmetric.NewManualReader()
		owned := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithResource(res))
		t.shutdown = append(t.shutdown, owned.Shutdown)
		t.handler = promtext.Handler(reader)
		mp = owned
	}
	in, err := newInstruments(mp.Meter(instrumentationName))
	if err != nil {
		return err
	}
	t.metrics = in
	return nil
}

// close flushes and stops what Start created, bounded so that an
// unreachable collector cannot hold the exit.
func (t *telemetry) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errs []error
	for _, fn := range t.shutdown {
		if err := fn(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
