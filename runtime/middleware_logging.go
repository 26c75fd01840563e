package runtime

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// logged writes one line per failed message at warn (4xx) or error (5xx) level
// and, at debug level, one per success. It logs with the handler's context,
// so every line names the handler, the correlation id and, when tracing is
// on, the trace and span ids; the service's logger adds the function.
func logged(logger *slog.Logger) Middleware {
	logger = withContextAttrs(logger)
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, m *Message) ([]byte, error) {
			start := time.Now()
			out, err := next.Handle(ctx, m)
			if err == nil && !logger.Enabled(ctx, slog.LevelDebug) {
				return out, nil
			}
			attrs := []slog.Attr{
				slog.String("kind", m.Kind.String()),
				slog.String("subject", m.Subject),
				slog.Duration("duration", time.Since(start)),
			}
			if m.Kind == KindEvent {
				attrs = append(attrs, slog.Uint64("stream_seq", m.Sequence), slog.Int("delivered", m.Delivered))
			}
			if err == nil {
				logger.LogAttrs(ctx, slog.LevelDebug, "handled", attrs...)
				return out, nil
			}
			code := codeFor(err)
			attrs = append(attrs, slog.Int("code", code), slog.String("error", err.Error()))
			var p *panicError
			if errors.As(err, &p) {
				attrs = append(attrs, slog.String("stack", p.stack))
			}
			level := slog.LevelWarn
			if _, retry := retryDelay(err); code >= 500 && !retry {
				// A RetryAfter is the handler waiting on purpose (a
				// breaker open), not a failure to page anyone about.
				level = slog.LevelError
			}
			logger.LogAttrs(ctx, level, "handler failed", attrs...)
			return out, err
		})
	}
}
