package kv

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Attributes of a write's span, as runtime/README.md lists them.
const (
	attrBucket   = attribute.Key("kv.bucket")
	attrKey      = attribute.Key("kv.key")
	attrKeys     = attribute.Key("kv.keys")
	attrExpected = attribute.Key("kv.expected_revision")
	attrRevision = attribute.Key("kv.revision")
	attrOutcome  = attribute.Key("kv.outcome")
	// attrAttempts is set when a write needed more than one attempt.
	attrAttempts = attribute.Key("kv.attempts")
)

// Values of kv.outcome.
const (
	outcomeWritten  = "written"
	outcomeExists   = "key_exists"
	outcomeMismatch = "revision_mismatch"
	outcomeFailed   = "failed"
)

// op is a kind of write.
type op uint8

const (
	opCreate op = iota
	opUpdate
	opDelete
	opCommit
	numOps
)

var opNames = [numOps]string{"create", "update", "delete", "commit"}

// tracer starts the spans of a bucket's writes; its zero value traces
// nothing.
type tracer struct {
	tr     trace.Tracer
	names  [numOps]string // "kv.<op> <bucket>"
	bucket attribute.KeyValue
}

func newTracer(tr trace.Tracer, bucket string) tracer {
	t := tracer{tr: tr, bucket: attrBucket.String(bucket)}
	for o := range numOps {
		t.names[o] = "kv." + opNames[o] + " " + bucket
	}
	return t
}

// start opens the span of a write, a child of the span in ctx. There is
// none without a tracer or when the span in ctx is not recording (no
// handler span, or one the sampler dropped), so that an untraced write
// builds nothing.
func (t *tracer) start(ctx context.Context, o op, attrs ...attribute.KeyValue) trace.Span {
	if t.tr == nil || !trace.SpanFromContext(ctx).IsRecording() {
		return nil
	}
	_, span := t.tr.Start(ctx, t.names[o])
	span.SetAttributes(t.bucket)
	span.SetAttributes(attrs...)
	return span
}

// end closes a write's span with its result. Losing a compare-and-swap is
// an outcome the caller handles, not a failure: it leaves the status unset.
func (t *tracer) end(span trace.Span, o op, rev uint64, attempts int, err error) {
	if span == nil {
		return
	}
	switch {
	case err == nil:
		span.SetAttributes(attrOutcome.String(outcomeWritten))
		if rev > 0 {
			span.SetAttributes(attrRevision.Int64(int64(rev)))
		}
	case errors.Is(err, ErrConflict) && o == opCreate:
		span.SetAttributes(attrOutcome.String(outcomeExists))
	case errors.Is(err, ErrConflict):
		span.SetAttributes(attrOutcome.String(outcomeMismatch))
	default:
		span.SetAttributes(attrOutcome.String(outcomeFailed))
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	if attempts > 1 {
		span.SetAttributes(attrAttempts.Int(attempts))
	}
	span.End()
}
