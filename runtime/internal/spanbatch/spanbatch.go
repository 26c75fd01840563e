// Package spanbatch is the span processor natsfn installs in the tracer
// providers it builds: the SDK's BatchSpanProcessor, made cheaper per span,
// and honest about the spans it loses.
package spanbatch

import (
	"cmp"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Batcher is the span processor the runtime installs. It does what the
// SDK's BatchSpanProcessor does — collect ended spans and export them in
// batches from one goroutine — but a span costs an append under a mutex
// instead of a channel send that wakes the exporting goroutine every time.
// On a JSON echo that wake was half of tracing's cost per request; the
// exporter runs when a batch fills or every Options.Delay.
//
// Nothing is lost silently: a span that finds the queue full is counted as
// dropped, and the spans of a failed export as lost, and Options.Failed
// hears of every failed export.
type Batcher struct {
	exp  sdktrace.SpanExporter
	opts Options

	mu      sync.Mutex
	spans   []sdktrace.ReadOnlySpan
	export  sync.Mutex // one export at a time, in order
	stopped atomic.Bool

	exported, dropped, lost, failures atomic.Int64

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

// Options tune a Batcher, after the OTEL_BSP_* variables; a zero field
// takes its default.
type Options struct {
	// MaxBatch is the most spans one export carries (512).
	MaxBatch int
	// MaxQueue is the most spans waiting for export; more are dropped (4096).
	MaxQueue int
	// Delay is the longest a span waits before an export starts (1s).
	Delay time.Duration
	// Timeout bounds one export, the exporter's retries included (30s).
	Timeout time.Duration
	// Failed is told of each failed export, with how many spans it lost.
	// It runs on the exporting goroutine: keep it short.
	Failed func(err error, spans int)
}

// Defaults of Options.
const (
	DefaultMaxBatch = 512
	DefaultMaxQueue = 4096
	DefaultDelay    = time.Second
	DefaultTimeout  = 30 * time.Second
)

// New starts a Batcher exporting to exp.
func New(exp sdktrace.SpanExporter, o Options) *Batcher {
	o.MaxBatch = cmp.Or(o.MaxBatch, DefaultMaxBatch)
	o.MaxQueue = max(cmp.Or(o.MaxQueue, DefaultMaxQueue), o.MaxBatch)
	o.Delay = cmp.Or(o.Delay, DefaultDelay)
	o.Timeout = cmp.Or(o.Timeout, DefaultTimeout)
	b := &Batcher{exp: exp, opts: o, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b
}

// Counts are what a Batcher did with the spans it was given.
type Counts struct {
	// Exported spans reached the exporter's destination.
	Exported int64
	// Dropped spans found the queue full.
	Dropped int64
	// Lost spans were in an export that failed.
	Lost int64
	// FailedExports is how many exports failed.
	FailedExports int64
}

// Counts returns the counts so far.
func (b *Batcher) Counts() Counts {
	return Counts{Exported: b.exported.Load(), Dropped: b.dropped.Load(), Lost: b.lost.Load(),
		FailedExports: b.failures.Load()}
}

// OnStart does nothing: spans are collected when they end.
func (b *Batcher) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd queues a sampled span.
func (b *Batcher) OnEnd(s sdktrace.ReadOnlySpan) {
	if b.stopped.Load() || !s.SpanContext().IsSampled() {
		return
	}
	b.mu.Lock()
	if len(b.spans) >= b.opts.MaxQueue {
		b.mu.Unlock()
		b.dropped.Add(1)
		return
	}
	b.spans = append(b.spans, s)
	full := len(b.spans) >= b.opts.MaxBatch
	b.mu.Unlock()
	if full {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

func (b *Batcher) run() {
	defer close(b.done)
	t := time.NewTicker(b.opts.Delay)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		case <-b.kick:
		}
		_ = b.flush(context.Background())
	}
}

// flush exports everything queued, a batch at a time, each bounded by
// Options.Timeout (and ctx). It stops at the first failed export: the next
// batches wait for the next flush rather than for the same dead collector.
func (b *Batcher) flush(ctx context.Context) error {
	b.export.Lock()
	defer b.export.Unlock()
	for {
		b.mu.Lock()
		n := min(len(b.spans), b.opts.MaxBatch)
		if n == 0 {
			b.mu.Unlock()
			return nil
		}
		out := b.spans[:n:n]
		b.spans = append([]sdktrace.ReadOnlySpan(nil), b.spans[n:]...)
		b.mu.Unlock()
		ectx, cancel := context.WithTimeout(ctx, b.opts.Timeout)
		err := b.exp.ExportSpans(ectx, out)
		cancel()
		if err != nil {
			b.failures.Add(1)
			b.lost.Add(int64(n))
			if b.opts.Failed != nil {
				b.opts.Failed(err, n)
			}
			return err
		}
		b.exported.Add(int64(n))
	}
}

// ForceFlush exports what is queued now.
func (b *Batcher) ForceFlush(ctx context.Context) error { return b.flush(ctx) }

// Shutdown stops the batcher, exports what is queued and shuts the
// exporter down.
func (b *Batcher) Shutdown(ctx context.Context) error {
	if b.stopped.Swap(true) {
		return nil
	}
	close(b.stop)
	<-b.done
	return errors.Join(b.flush(ctx), b.exp.Shutdown(ctx))
}

var _ sdktrace.SpanProcessor = (*Batcher)(nil)
