package runtime_test

import (
	"context"
	"slices"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
	"github.com/natsfn/natsfn/runtime/internal/spanbatch"
)

// BenchmarkEndpointTelemetry measures what tracing and metrics cost a
// runtime endpoint at 64 requests in flight. Copies of the same JSON echo
// run in one process: plain (nothing configured); traced (always sample,
// through a tracer provider the runtime builds, as from OTEL_* settings:
// its own spans and span batcher, an exporter that drops the spans);
// sampled (the same at parentbased_traceidratio 0.1, a production
// setting); traced-sdk (always sample with the SDK's spans, as a
// Config.TracerProvider gets); metered (the SDK meter provider with a
// reader, as /metrics has); and both (traced and metered). Rounds
// alternate between them so that a noisy neighbour slows all alike. It
// reports the median of each round's ratio to plain (1.0 means free; the
// target is >= 0.90 for tracing), and the same for the process's CPU per
// request, for the default endpoint and for Concurrency(64).
func BenchmarkEndpointTelemetry(b *testing.B) {
	srv := fntest.NewServer(b)
	newMeter := func() *sdkmetric.MeterProvider {
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
		b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
		return mp
	}
	variants := []string{"plain", "traced", "sampled", "traced-sdk", "metered", "both"}
	for _, name := range variants {
		svc := runtime.NewService(runtime.ServiceConfig{Name: name, Version: "1.0.0"})
		echo := func(ctx context.Context, in echoIn) (echoOut, error) { return echoOut{Echo: in.Msg}, nil }
		runtime.Endpoint(svc, "echo", echo)
		runtime.Endpoint(svc, "echo64", echo, runtime.Concurrency(64))
		cfg := srv.Config(name)
		switch name {
		case "traced", "both":
			cfg.TracesSampler = "always_on"
			cfg = runtime.WithSpanExporter(cfg, tracetest.NewNoopExporter())
		case "sampled":
			cfg.TracesSampler, cfg.TracesSamplerArg = "parentbased_traceidratio", "0.1"
			cfg = runtime.WithSpanExporter(cfg, tracetest.NewNoopExporter())
		case "traced-sdk":
			tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
				sdktrace.WithSpanProcessor(spanbatch.New(tracetest.NewNoopExporter(), spanbatch.Options{})))
			b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
			cfg.TracerProvider = tp
		}
		if name == "metered" || name == "both" {
			cfg.MeterProvider = newMeter()
		}
		fntest.RunConfig(b, cfg, svc)
	}
	client := srv.Connect(b)
	const inflight = 64
	rounds := benchRounds(b, 20)
	n := max(b.N/rounds, 1)
	// Per round and variant: req/s, and the process's CPU µs per request
	// (the embedded server's and the client's included), which a busy
	// machine disturbs less than the rates.
	type sample struct{ rate, cpu []float64 }
	inline := map[string]*sample{}
	pool := map[string]*sample{}
	for _, name := range variants {
		inline[name], pool[name] = &sample{}, &sample{}
	}
	measure := func(s *sample, subject string) {
		cpu0 := cpuTime()
		d := requestTime(b, client, subject, inflight, n)
		s.rate = append(s.rate, float64(n)/d.Seconds())
		s.cpu = append(s.cpu, float64((cpuTime()-cpu0).Nanoseconds())/1e3/float64(n))
	}
	b.ResetTimer()
	for range rounds {
		for _, name := range variants {
			measure(inline[name], name+".echo")
			measure(pool[name], name+".echo64")
		}
	}
	if b.N == 1 {
		return
	}
	b.Logf("%d rounds of %d requests, %d in flight; ratio = req/s over plain's in the same round (1.0 = free); CPU = the process's µs per request, and plain's over this", rounds, n, inflight)
	for _, name := range variants {
		r, rp := ratios(inline[name].rate, inline["plain"].rate), ratios(pool[name].rate, pool["plain"].rate)
		c, cp := ratios(inline["plain"].cpu, inline[name].cpu), ratios(pool["plain"].cpu, pool[name].cpu)
		b.Logf("%-8s default: %6.0f req/s ratio %.2f (%.2f-%.2f) CPU %.1f %.2f (%.2f-%.2f) | pool64: ratio %.2f (%.2f-%.2f) CPU %.1f %.2f (%.2f-%.2f)",
			name, median(inline[name].rate), median(r), slices.Min(r), slices.Max(r),
			median(inline[name].cpu), median(c), slices.Min(c), slices.Max(c),
			median(rp), slices.Min(rp), slices.Max(rp), median(pool[name].cpu), median(cp), slices.Min(cp), slices.Max(cp))
		if name != "plain" {
			b.ReportMetric(median(r), name+"-ratio")
			b.ReportMetric(median(c), name+"-cpu-ratio")
			b.ReportMetric(median(rp), name+"-pool64-ratio")
		}
	}
}
