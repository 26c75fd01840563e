package runtime

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// instrumentationName is the scope of every span and metric the runtime makes.
const instrumentationName = "github.com/natsfn/natsfn/runtime"

// tracesExporter names the exporter the config asks for, or "" for none.
func (c Config) tracesExporter() string {
	switch {
	case c.Traces == "off" || c.OTelDisabled || c.TracesExporter == "none":
		return ""
	case c.Traces == "stdout" || c.TracesExporter == "console":
		return "console"
	case c.TracesExporter == "otlp" || c.OTLPEndpoint != "" || c.OTLPTracesEndpoint != "":
		return "otlp"
	}
	return ""
}

// NewTracerProvider builds the tracer provider cfg asks for, for one
// function: OTLP over HTTP when an OTLP endpoint is set (or
// OTEL_TRACES_EXPORTER=otlp), stdout for OTEL_TRACES_EXPORTER=console or
// NATSFN_TRACES=stdout, and nil when nothing asks for traces. Spans are
// batched; Shutdown flushes them. The SDK itself reads OTEL_TRACES_SAMPLER
// (and its _ARG), OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES, which win
// over the service's name.
//
// Run calls it for every service unless Config.TracerProvider is set; a
// main that wants one provider, or otel's globals, calls it itself and
// passes the result in Config.TracerProvider.
func NewTracerProvider(ctx context.Context, cfg Config, svc ServiceConfig) (*sdktrace.TracerProvider, error) {
	var exp sdktrace.SpanExporter
	var err error
	switch cfg.tracesExporter() {
	case "":
		return nil, nil
	case "console":
		exp, err = stdouttrace.New()
	case "otlp":
		endpoint := "http://localhost:4318/v1/traces"
		switch {
		case cfg.OTLPTracesEndpoint != "":
			endpoint = cfg.OTLPTracesEndpoint
		case cfg.OTLPEndpoint != "":
			endpoint = strings.TrimRight(cfg.OTLPEndpoint, "/") + "/v1/traces"
		}
		exp, err = newOTLPExporter(ctx, endpoint)
	}
	if err != nil {
		return nil, fmt.Errorf("trace exporter: %w", err)
	}
	res, err := serviceResource(ctx, svc.Name, svc.Version, cfg.InstanceID)
	if err != nil {
		return nil, err
	}
	return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(newSpanBatcher(exp)), sdktrace.WithResource(res)), nil
}

// serviceResource describes the process to a backend. OTEL_SERVICE_NAME and
// OTEL_RESOURCE_ATTRIBUTES override it.
func serviceResource(ctx context.Context, name, version, instance string) (*resource.Resource, error) {
	attrs := []resource.Option{resource.WithAttributes(semconv.ServiceName(name), semconv.ServiceInstanceID(instance))}
	if version != "" {
		attrs = append(attrs, resource.WithAttributes(semconv.ServiceVersion(version)))
	}
	attrs = append(attrs, resource.WithFromEnv(), resource.WithTelemetrySDK())
	res, err := resource.New(ctx, attrs...)
	if err != nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	}
	return res, nil
}

// telemetry is what Run sets up once for the process: each service's
// tracer, the metric instruments, the /metrics handler, and the shutdown of
// whatever Run itself created.
type telemetry struct {
	tracers  map[*Service]trace.Tracer // absent: tracing off for the service
	metrics  *instruments              // nil: metrics off
	handler  http.Handler              // /metrics; nil unless Run owns the meter provider
	shutdown []func(context.Context) error
}

func newTelemetry(ctx context.Context, cfg Config, services []*Service) (*telemetry, error) {
	t := &telemetry{tracers: map[*Service]trace.Tracer{}}
	if err := t.setupTracing(ctx, cfg, services); err != nil {
		t.close()
		return nil, err
	}
	if err := t.setupMetrics(ctx, cfg, services); err != nil {
		t.close()
		return nil, err
	}
	return t, nil
}

func (t *telemetry) setupTracing(ctx context.Context, cfg Config, services []*Service) error {
	if cfg.TracerProvider != nil {
		if _, off := cfg.TracerProvider.(tracenoop.TracerProvider); off {
			return nil
		}
		tr := cfg.TracerProvider.Tracer(instrumentationName)
		for _, s := range services {
			t.tracers[s] = tr
		}
		return nil
	}
	for _, s := range services {
		tp, err := NewTracerProvider(ctx, cfg, s.cfg)
		if err != nil {
			return fmt.Errorf("service %s: %w", s.cfg.Name, err)
		}
		if tp == nil {
			return nil // one config: off for every service
		}
		t.shutdown = append(t.shutdown, tp.Shutdown)
		t.tracers[s] = tp.Tracer(instrumentationName)
	}
	return nil
}

// setupMetrics uses the config's meter provider, or builds one exported in
// Prometheus format from its own registry when the ops port is on.
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
		res, err := serviceResource(ctx, name, "", cfg.InstanceID)
		if err != nil {
			return err
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
		exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
		if err != nil {
			return fmt.Errorf("prometheus exporter: %w", err)
		}
		owned := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp), sdkmetric.WithResource(res))
		t.shutdown = append(t.shutdown, owned.Shutdown)
		t.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
		mp = owned
	}
	in, err := newInstruments(mp.Meter(instrumentationName))
	if err != nil {
		return err
	}
	t.metrics = in
	return nil
}

// close flushes and stops what Run created, bounded so that an unreachable
// collector cannot hold the exit.
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
