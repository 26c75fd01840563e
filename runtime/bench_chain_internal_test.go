package runtime

import (
	"context"
	"io"
	"log/slog"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
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
			s := NewService(ServiceConfig{Name: "bench", Version: "1.0.0"})
			s.logger = withContextAttrs(slog.New(slog.NewJSONHandler(io.Discard, nil)))
			if c.traced {
				proc := sdktrace.SpanProcessor(newSpanBatcher(tracetest.NewNoopExporter()))
				if c.sdkBatcher {
					proc = sdktrace.NewBatchSpanProcessor(tracetest.NewNoopExporter())
				}
				tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithSpanProcessor(proc))
				b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
				s.tracer = tp.Tracer(instrumentationName)
			}
			if c.metered {
				mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
				b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
				in, err := newInstruments(mp.Meter(instrumentationName))
				if err != nil {
					b.Fatal(err)
				}
				s.metrics = in
			}
			site := handlerSite{kind: KindRequest, name: "echo", subject: "bench.echo"}
			core := typed(func(ctx context.Context, in echo) (echo, error) { return in, nil })
			h := s.chain(core, newHandlerOptions(nil), site, s.metricsFor(site))
			data := []byte(`{"msg":"hello benchmark"}`)
			b.ReportAllocs()
			for b.Loop() {
				m := &Message{Kind: KindRequest, Service: "bench", Handler: "echo", Subject: "bench.echo", Data: data}
				if _, err := h.Handle(withInvocation(context.Background(), &invocation{msg: m, svc: s}), m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
