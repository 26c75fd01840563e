package runtime

import (
	"context"
	"io"
	"log/slog"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/natsfn/natsfn/runtime/internal/spanbatch"
)

// BenchmarkChain measures the CPU one request spends in the middleware
// chain around a JSON echo, without NATS, so that the cost of tracing and
// metrics shows without the network's noise: plain (both off); traced
// (always sample, the runtime's own spans, as with a provider it built,
// into its span batcher, spans dropped); traced-sdk-span (the SDK's spans,
// as with Config.TracerProvider); traced-sdk-batcher (the SDK's spans and
// its BatchSpanProcessor); metered (SDK meter provider with a reader);
// and both.
func BenchmarkChain(b *testing.B) {
	type echo struct {
		Msg string `json:"msg"`
	}
	for _, c := range []struct {
		name            string
		traced, metered bool
		sdkBatcher      bool
		sdkSpans        bool
	}{{"plain", false, false, false, false}, {"traced", true, false, false, false}, {"traced-sdk-span", true, false, false, true},
		{"traced-sdk-batcher", true, false, true, true}, {"metered", false, true, false, false}, {"both", true, true, false, false}} {
		b.Run(c.name, func(b *testing.B) {
			svc := NewService(ServiceConfig{Name: "bench", Version: "1.0.0"})
			r := newServiceRun(context.Background(), svc, Config{InstanceID: "bench"}, slog.New(slog.NewJSONHandler(io.Discard, nil)), nil, nil, nil)
			if c.traced {
				proc := sdktrace.SpanProcessor(spanbatch.New(tracetest.NewNoopExporter(), spanbatch.Options{}))
				if c.sdkBatcher {
					proc = sdktrace.NewBatchSpanProcessor(tracetest.NewNoopExporter())
				}
				tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSpanProcessor(proc))
				b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
				r.tracer = tp.Tracer(instrumentationName)
				r.spans = &leanSpans{provider: tp, sampler: sdktrace.AlwaysSample(), proc: proc}
				if c.sdkSpans {
					r.spans = sdkSpans{r.tracer}
				}
			}
			if c.metered {
				mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
				b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
				in, err := newInstruments(mp.Meter(instrumentationName))
				if err != nil {
					b.Fatal(err)
				}
				r.metrics = in
			}
			site := handlerSite{kind: KindRequest, name: "echo", subject: "bench.echo"}
			core := typed(func(ctx context.Context, in echo) (echo, error) { return in, nil })
			h := r.chain(core, newEndpointOptions(nil).handlerOptions, site, r.metricsFor(site))
			data := []byte(`{"msg":"hello benchmark"}`)
			b.ReportAllocs()
			for b.Loop() {
				inv := r.newInvocation(nil, nil)
				*inv.msg = Message{Kind: KindRequest, Service: "bench", Handler: "echo", Subject: "bench.echo", Data: data}
				if _, err := h.Handle(inv, inv.msg); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
