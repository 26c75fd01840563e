package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// exportLog logs the failed span exports of one function: the first at
// once, then at most one line every `every`, which says how many exports
// and spans failed since the line before. A collector that is down fails
// every export, and a line per export would bury the rest of the log.
type exportLog struct {
	logger *slog.Logger
	every  time.Duration

	mu            sync.Mutex
	last          time.Time
	exports, lost int // failures since the last line
}

func newExportLog(logger *slog.Logger, every time.Duration) *exportLog {
	return &exportLog{logger: logger, every: every}
}

// failed is the span batcher's Failed.
func (l *exportLog) failed(err error, spans int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.exports++
	l.lost += spans
	now := time.Now()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		return
	}
	l.logger.Warn("span export failed: the spans are lost", "error", err,
		"failed_exports", l.exports, "lost_spans", l.lost, "next_report_after", l.every)
	l.last, l.exports, l.lost = now, 0, 0
}

// measureSpans reports what each span batcher did with its spans, when
// both tracing (with a provider Start built) and metrics are on:
// natsfn_spans_exported_total, natsfn_spans_dropped_total by reason
// (queue_full, export_failed) and natsfn_span_exports_failed_total.
func (t *telemetry) measureSpans(services []*Service) error {
	if t.metrics == nil || t.batchers[0] == nil {
		return nil
	}
	m := t.metrics.meter
	exported, err1 := m.Int64ObservableCounter("natsfn.spans.exported",
		metric.WithDescription("Spans the span batcher exported."))
	dropped, err2 := m.Int64ObservableCounter("natsfn.spans.dropped",
		metric.WithDescription("Spans lost before they reached the collector: queue_full (the batcher's queue was full) or export_failed (their export failed)."))
	failed, err3 := m.Int64ObservableCounter("natsfn.span_exports.failed",
		metric.WithDescription("Span exports that failed after their retries."))
	for _, err := range []error{err1, err2, err3} {
		if err != nil {
			return fmt.Errorf("span metrics: %w", err)
		}
	}
	type labels struct{ fn, queueFull, exportFailed metric.ObserveOption }
	sets := make([]labels, len(services))
	for i, s := range services {
		fn := attribute.String("function", s.cfg.Name)
		sets[i] = labels{
			fn:           metric.WithAttributeSet(attribute.NewSet(fn)),
			queueFull:    metric.WithAttributeSet(attribute.NewSet(fn, attribute.String("reason", "queue_full"))),
			exportFailed: metric.WithAttributeSet(attribute.NewSet(fn, attribute.String("reason", "export_failed"))),
		}
	}
	reg, err := m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for i, b := range t.batchers {
			c := b.Counts()
			o.ObserveInt64(exported, c.Exported, sets[i].fn)
			o.ObserveInt64(dropped, c.Dropped, sets[i].queueFull)
			o.ObserveInt64(dropped, c.Lost, sets[i].exportFailed)
			o.ObserveInt64(failed, c.FailedExports, sets[i].fn)
		}
		return nil
	}, exported, dropped, failed)
	if err != nil {
		return fmt.Errorf("span metrics: %w", err)
	}
	t.shutdown = append([]func(context.Context) error{func(context.Context) error { return reg.Unregister() }}, t.shutdown...)
	return nil
}
