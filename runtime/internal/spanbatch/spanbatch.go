// Package spanbatch is the span processor natsfn installs in the tracer
// providers it builds: the SDK's BatchSpanProcessor, made cheaper per span.
package spanbatch

import (
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
// exporter runs when a batch fills or every flushEvery.
type Batcher struct {
	exp        sdktrace.SpanExporter
	batch      int
	queue      int
	flushEvery time.Duration

	mu      sync.Mutex
	spans   []sdktrace.ReadOnlySpan
	export  sync.Mutex // one export at a time, in order
	dropped atomic.Int64
	stopped atomic.Bool

	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

// New returns the span processor the runtime installs for its own tracer
// providers: batches of 512 spans, at most 4096 waiting (more are
// dropped), exported at least every second.
func New(exp sdktrace.SpanExporter) *Batcher { return start(exp, 512, 4096) }

func start(exp sdktrace.SpanExporter, batch, queue int) *Batcher {
	b := &Batcher{exp: exp, batch: batch, queue: queue, flushEvery: time.Second,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go b.run()
	return b
}

// OnStart does nothing: spans are collected when they end.
func (b *Batcher) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd queues a sampled span.
func (b *Batcher) OnEnd(s sdktrace.ReadOnlySpan) {
	if b.stopped.Load() || !s.SpanContext().IsSampled() {
		return
	}
	b.mu.Lock()
	if len(b.spans) >= b.queue {
		b.mu.Unlock()
		b.dropped.Add(1)
		return
	}
	b.spans = append(b.spans, s)
	full := len(b.spans) >= b.batch
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
	t := time.NewTicker(b.flushEvery)
	defer t.Stop()
	for {
		select {
		case <-b.stop:
			return
		case <-t.C:
		case <-b.kick:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = b.flush(ctx)
		cancel()
	}
}

// flush exports everything queued, a batch at a time.
func (b *Batcher) flush(ctx context.Context) error {
	b.export.Lock()
	defer b.export.Unlock()
	for {
		b.mu.Lock()
		n := min(len(b.spans), b.batch)
		if n == 0 {
			b.mu.Unlock()
			return nil
		}
		out := b.spans[:n:n]
		b.spans = append([]sdktrace.ReadOnlySpan(nil), b.spans[n:]...)
		b.mu.Unlock()
		if err := b.exp.ExportSpans(ctx, out); err != nil {
			return err
		}
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
