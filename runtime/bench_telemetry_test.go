package runtime_test

import (
	"context"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
	"github.com/natsfn/natsfn/runtime/internal/spanbatch"
)

// BenchmarkEndpointTelemetry measures what tracing and metrics cost a
// runtime endpoint at 64 requests in flight. Five copies of the same JSON
// echo run in one process: plain (nothing configured), traced (always
// sample, the runtime's span batcher, an exporter that drops the spans), sampled
// (the same at parentbased_traceidratio 0.1, a production setting), metered
// (the SDK meter provider with a reader, as /metrics has) and both (traced
// and metered). Rounds
// alternate between them so that a noisy neighbour slows all alike. It
// reports req/s of each and their ratio to plain (1.0 means free; the
// target is >= 0.90 for tracing), for the default endpoint (one request at
// a time) and for Concurrency(64).
func BenchmarkEndpointTelemetry(b *testing.B) {
	srv := fntest.NewServer(b)
	newTracer := func(sampler sdktrace.Sampler) *sdktrace.TracerProvider {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler),
			sdktrace.WithSpanProcessor(spanbatch.New(tracetest.NewNoopExporter(), spanbatch.Options{})))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		return tp
	}
	newMeter := func() *sdkmetric.MeterProvider {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
		return mp
	}
	variants := []string{"plain", "traced", "sampled", "metered", "both"}
	for _, name := range variants {
		svc := runtime.NewService(runtime.ServiceConfig{Name: name, Version: "1.0.0"})
		echo := func(ctx context.Context, in echoIn) (echoOut, error) { return echoOut{Echo: in.Msg}, nil }
		runtime.Endpoint(svc, "echo", echo)
		runtime.Endpoint(svc, "echo64", echo, runtime.Concurrency(64))
		cfg := srv.Config(name)
		switch name {
		case "traced", "both":
			cfg.TracerProvider = newTracer(sdktrace.AlwaysSample())
		case "sampled":
			cfg.TracerProvider = newTracer(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.1)))
		}
		if name == "metered" || name == "both" {
			cfg.MeterProvider = newMeter()
		}
		fntest.RunConfig(b, cfg, svc)
	}
	client := srv.Connect(b)
	const inflight, rounds = 64, 20
	n := max(b.N/rounds, 1)
	inline := map[string]time.Duration{}
	pool := map[string]time.Duration{}
	b.ResetTimer()
	for range rounds {
		for _, name := range variants {
			inline[name] += requestTime(b, client, name+".echo", inflight, n)
			pool[name] += requestTime(b, client, name+".echo64", inflight, n)
		}
	}
	total := float64(n * rounds)
	b.ReportMetric(total/inline["plain"].Seconds(), "plain-req/s")
	b.ReportMetric(total/inline["traced"].Seconds(), "traced-req/s")
	for _, name := range variants[1:] {
		b.ReportMetric(inline["plain"].Seconds()/inline[name].Seconds(), name+"-ratio")
		b.ReportMetric(pool["plain"].Seconds()/pool[name].Seconds(), name+"-pool64-ratio")
	}
}
