package runtime

import sdktrace "go.opentelemetry.io/otel/sdk/trace"

// WithSpanExporter returns cfg with tracing on through a tracer provider
// the runtime builds, as from the OTEL_* settings, exporting to exp: what
// a running function has, which Config.TracerProvider replaces.
func WithSpanExporter(cfg Config, exp sdktrace.SpanExporter) Config {
	cfg.spanExporter = exp
	return cfg
}
