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
// metrics shows without the network's noise: plain (both off), traced
// (always sample, batch processor, spans dropped), metered (SDK meter
// provider with a reader) and both.
func BenchmarkChain(b *testing.B) {
	type echo struct {
		Msg string `json:"msg"`
	}
	for _, c := range []struct {
		name            string
		traced, metered bool
		sdkBatcher      bool
	}{{"plain", false, false, false}, {"traced", true, false, false}, {"traced-sdk-batcher", true, false, true},
		{"metered", false, true, false}, {"both", true, true, false}} {
		b.Run(c.name, func(b *testing.B) {
			svc := NewService(ServiceConfig{Name: "bench", Version: "1.0.0"})
			r := newServiceRun(context.Background(), svc, Config{InstanceID: "bench"}, slog.New(slog.NewJSONHandler(io.Discard, nil)), nil, nil)
			if c.traced {
				proc := sdktrace.SpanProcessor(spanbatch.New(tracetest.NewNoopExporter(), spanbatch.Options{}))
				if c.sdkBatcher {
					proc = sdktrace.NewBatchSpanProcessor(tracetest.NewNoopExporter())
				}
				tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSpanProcessor(proc))
				b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
				r.tracer = tp.Tracer(instrumentationName)
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
