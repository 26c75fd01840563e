package runtime

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// contextHandler is a slog.Handler that adds to every record logged with a
// handler's context the handler name, the correlation id, and the trace and
// span ids of the span in the context. The service's logger carries the
// function name already, so a line logged as
//
//	d.Logger.InfoContext(ctx, "reserved", "order_id", id)
//
// from a handler names the function, handler, correlation_id, trace_id and
// span_id without the handler passing any of them.
type contextHandler struct{ slog.Handler }

// withContextAttrs wraps logger's handler in a contextHandler, once.
func withContextAttrs(logger *slog.Logger) *slog.Logger {
	if _, ok := logger.Handler().(contextHandler); ok {
		return logger
	}
	return slog.New(contextHandler{logger.Handler()})
}

// Handle adds the context's attributes and passes the record on.
func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx == nil {
		return h.Handler.Handle(ctx, r)
	}
	inv := invocationFrom(ctx)
	sc := trace.SpanContextFromContext(ctx)
	if inv == nil && !sc.IsValid() {
		return h.Handler.Handle(ctx, r)
	}
	r = r.Clone()
	if inv != nil {
		r.AddAttrs(slog.String("handler", inv.msg.Handler), slog.String("correlation_id", inv.msg.CorrelationID()))
	}
	if sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the wrapper around the new handler.
func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(attrs)}
}

// WithGroup keeps the wrapper around the new handler.
func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}
