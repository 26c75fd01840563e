package runtime

import (
	"context"
	"time"
)

// measure counts every message a handler finishes, by outcome and, for an
// error, by code, and records how long the rest of the chain took. It runs
// outside Recover and MapErrors, so it sees the code the caller sees.
//
// It measures with a context that has no span: with one, the SDK's default
// trace-based exemplar filter samples an exemplar for every measurement,
// which costs about a microsecond per message, and /metrics serves plain
// Prometheus text, which cannot show exemplars anyway.
func measure(hm *handlerMetrics) Middleware {
	return func(next Handler) Handler {
		return HandlerFunc(func(ctx context.Context, m *Message) ([]byte, error) {
			start := time.Now()
			out, err := next.Handle(ctx, m)
			elapsed := time.Since(start).Seconds()
			in := hm.in
			ctx = context.Background()
			if err == nil {
				in.handled.Add(ctx, 1, hm.ok...)
				in.duration.Record(ctx, elapsed, hm.okDur...)
				return out, nil
			}
			in.handled.Add(ctx, 1, hm.failed...)
			in.duration.Record(ctx, elapsed, hm.failedDur...)
			if opts, ok := hm.byCode[codeFor(err)]; ok {
				in.errors.Add(ctx, 1, opts...)
			}
			return out, err
		})
	}
}
