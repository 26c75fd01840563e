package runtime

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Attributes of a KV span.
const (
	attrBucket   = attribute.Key("kv.bucket")
	attrKey      = attribute.Key("kv.key")
	attrRevision = attribute.Key("kv.revision")
	// attrExpected is the revision an Update was made at.
	attrExpected = attribute.Key("kv.expected_revision")
	attrOutcome  = attribute.Key("kv.outcome")
)

// Values of kv.outcome.
const (
	outcomeWritten  = "written"
	outcomeExists   = "key_exists"
	outcomeMismatch = "revision_mismatch"
	outcomeFailed   = "failed"
)

// kvOp is a kind of write.
type kvOp int

const (
	opPut kvOp = iota
	opCreate
	opUpdate
	opDelete
	opPurge
	numOps
)

var opNames = [numOps]string{"put", "create", "update", "delete", "purge"}

// bucket is a KeyValue whose writes are traced; everything else is the
// wrapped bucket's own.
type tracedBucket struct {
	jetstream.KeyValue
	spanNames [numOps]string
	bucket    attribute.KeyValue
}

// TraceKV wraps a JetStream key-value bucket so that every write
// of a key (Put, PutString, Create, Update, Delete, Purge) runs in its own
// span, a child of the handler's span, named "kv.<op> <bucket>" as
// runtime/README.md describes:
//
//	kv.update stock   kv.bucket=stock  kv.key=sku-1  kv.expected_revision=7
//	                  kv.revision=8    kv.outcome=written
//
// Wrap the buckets a function writes when OnStart opens them, and each
// write is traced without span code at the call site. Reads are not
// traced: they are the bulk of KV calls and say little in a trace.
//
// A write that loses a compare-and-swap is an answer, not a failure: every
// caller of natsfn's own functions handles it as a branch (claim taken, reload and
// retry). So ErrKeyExists from Create and ErrKeyRevisionMismatch from
// Update, Delete or Purge end the span with kv.outcome key_exists or
// revision_mismatch and no error status. Any other error is recorded as
// the span's error, as unavailable (503): NATS could not store the write.
//
// Outside a handler (an OnStart hook) or with tracing off, StartSpan
// hands back a no-op span and the wrapper adds next to nothing. Wrapping a
// wrapped bucket returns it as is.
func TraceKV(kv jetstream.KeyValue) jetstream.KeyValue {
	if b, ok := kv.(*tracedBucket); ok {
		return b
	}
	b := &tracedBucket{KeyValue: kv, bucket: attrBucket.String(kv.Bucket())}
	for o := range numOps {
		b.spanNames[o] = "kv." + opNames[o] + " " + kv.Bucket()
	}
	return b
}

// start opens the span of a write of key. Attributes are set only on a
// recording span, so an untraced write builds none.
func (b *tracedBucket) start(ctx context.Context, o kvOp, key string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	ctx, span := StartSpan(ctx, b.spanNames[o])
	if span.IsRecording() {
		span.SetAttributes(b.bucket, attrKey.String(key))
		span.SetAttributes(attrs...)
	}
	return ctx, span
}

// end closes the span of a write of kind o with its result: the revision
// written, the lost compare-and-swap, or the failure.
func endKVSpan(span trace.Span, o kvOp, rev uint64, err error) {
	switch {
	case err == nil:
		if span.IsRecording() {
			span.SetAttributes(attrOutcome.String(outcomeWritten))
			if rev > 0 {
				span.SetAttributes(attrRevision.Int64(int64(rev)))
			}
		}
		EndSpan(span, nil)
	case o == opCreate && errors.Is(err, jetstream.ErrKeyExists):
		span.SetAttributes(attrOutcome.String(outcomeExists))
		EndSpan(span, nil)
	case o != opCreate && errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		span.SetAttributes(attrOutcome.String(outcomeMismatch))
		EndSpan(span, nil)
	case errors.Is(err, jetstream.ErrInvalidKey):
		span.SetAttributes(attrOutcome.String(outcomeFailed))
		EndSpan(span, err)
	default:
		span.SetAttributes(attrOutcome.String(outcomeFailed))
		EndSpan(span, Unavailable(err, "kv %s could not be written", opNames[o]))
	}
}

// Put stores value under key whatever was there, in a "kv.put" span.
func (b *tracedBucket) Put(ctx context.Context, key string, value []byte) (uint64, error) {
	ctx, span := b.start(ctx, opPut, key)
	rev, err := b.KeyValue.Put(ctx, key, value)
	endKVSpan(span, opPut, rev, err)
	return rev, err
}

// PutString is Put with a string value.
func (b *tracedBucket) PutString(ctx context.Context, key string, value string) (uint64, error) {
	ctx, span := b.start(ctx, opPut, key)
	rev, err := b.KeyValue.PutString(ctx, key, value)
	endKVSpan(span, opPut, rev, err)
	return rev, err
}

// Create stores value under key unless the key exists, in a "kv.create"
// span; ErrKeyExists is the outcome key_exists.
func (b *tracedBucket) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	ctx, span := b.start(ctx, opCreate, key)
	rev, err := b.KeyValue.Create(ctx, key, value, opts...)
	endKVSpan(span, opCreate, rev, err)
	return rev, err
}

// Update stores value under key at revision, in a "kv.update" span;
// ErrKeyRevisionMismatch is the outcome revision_mismatch.
func (b *tracedBucket) Update(ctx context.Context, key string, value []byte, revision uint64) (uint64, error) {
	ctx, span := b.start(ctx, opUpdate, key, attrExpected.Int64(int64(revision)))
	rev, err := b.KeyValue.Update(ctx, key, value, revision)
	endKVSpan(span, opUpdate, rev, err)
	return rev, err
}

// Delete deletes key, in a "kv.delete" span.
func (b *tracedBucket) Delete(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	ctx, span := b.start(ctx, opDelete, key)
	err := b.KeyValue.Delete(ctx, key, opts...)
	endKVSpan(span, opDelete, 0, err)
	return err
}

// Purge deletes key and its history, in a "kv.purge" span.
func (b *tracedBucket) Purge(ctx context.Context, key string, opts ...jetstream.KVDeleteOpt) error {
	ctx, span := b.start(ctx, opPurge, key)
	err := b.KeyValue.Purge(ctx, key, opts...)
	endKVSpan(span, opPurge, 0, err)
	return err
}
