package runtime

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"go.opentelemetry.io/otel/trace"

	"github.com/natsfn/natsfn/runtime/internal/retry"
)

// emitter publishes a running instance's events asynchronously and
// resolves each emit when its PubAck arrives, on the callbacks of its own
// JetStream context: an event handler's worker does not wait for the
// stream, it hands the publish over and takes the next message (the
// serial publish-then-ack loop runs at a fifth of an async one:
// BenchmarkEvent). A failed attempt is published again with the same
// Nats-Msg-Id, after retry's jittered backoff, as long as the handler's
// bound allows: a stream-leader election takes seconds.
type emitter struct {
	js     jetstream.JetStream
	policy retry.Policy

	mu sync.Mutex
	// inflight finds an emit from the message jetstream's callbacks hand
	// back, which is the one Emit published.
	inflight map[*nats.Msg]*pendingEmit
}

// emitAttempt bounds one publish attempt's wait for its PubAck: a publish
// whose answer was lost (a leader that died with it) is tried again after
// this rather than never.
const emitAttempt = 2 * time.Second

// emitMaxPending bounds the instance's emits awaiting their PubAck; one
// over it waits up to 200ms for room, then fails and is retried.
const emitMaxPending = 16384

// emitPolicy spaces an emit's retries: a first retry at once or nearly (a
// lost answer, a no-responders while a stream moves), doubling to 2s for
// an election.
var emitPolicy = retry.Policy{Initial: 20 * time.Millisecond, Max: 2 * time.Second}

// retryAttempts0 turns off nats.go's own retry of a no-responders, which
// would publish again after the bound; the emitter retries itself.
var retryAttempts0 = []jetstream.PublishOpt{jetstream.WithRetryAttempts(0)}

func newEmitter(nc *nats.Conn) (*emitter, error) {
	e := &emitter{policy: emitPolicy, inflight: map[*nats.Msg]*pendingEmit{}}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncTimeout(emitAttempt),
		// Above nats.go's 4000: every handler of the instance may hold
		// MaxAckPending (256) messages with several emits each in flight.
		jetstream.WithPublishAsyncMaxPending(emitMaxPending),
		jetstream.WithPublishAsyncAckHandler(func(_ jetstream.JetStream, m *nats.Msg, _ *jetstream.PubAck) {
			if pe := e.take(m); pe != nil {
				pe.resolve(nil)
			}
		}),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, m *nats.Msg, err error) {
			if pe := e.take(m); pe != nil {
				e.failed(pe, err)
			}
		}))
	if err != nil {
		return nil, fmt.Errorf("jetstream for emits: %w", err)
	}
	e.js = js
	return e, nil
}

// pendingEmit is one Emit until its PubAck, or its last failure.
type pendingEmit struct {
	inv     *invocation
	msg     nats.Msg
	span    trace.Span // nil with tracing off
	attempt int
	first   time.Time // of the first attempt
	// async is an event handler's emit, which the handler does not wait
	// for: its failure ends the handler's context. Otherwise wait gets
	// the outcome.
	async bool
	wait  chan error
	// lead are the messages before msg of an atomic batch (EmitAll, a
	// dual phase), nil for one message; msg then commits the batch, and
	// its PubAck is the batch's. leadSpans are their producer spans.
	lead      []*nats.Msg
	leadSpans []trace.Span
}

func (e *emitter) take(m *nats.Msg) *pendingEmit {
	e.mu.Lock()
	pe := e.inflight[m]
	delete(e.inflight, m)
	e.mu.Unlock()
	return pe
}

// send makes an attempt, unless the handler's bound has passed.
func (e *emitter) send(pe *pendingEmit) {
	if pe.inv.expired() {
		pe.resolve(fmt.Errorf("no time left before the handler's deadline (%d attempts): %w", pe.attempt, context.DeadlineExceeded))
		return
	}
	if pe.attempt == 0 {
		pe.first = time.Now()
	}
	pe.attempt++
	if len(pe.lead) > 0 {
		if err := e.sendLead(pe); err != nil {
			e.failed(pe, err)
			return
		}
	}
	e.mu.Lock()
	e.inflight[&pe.msg] = pe
	e.mu.Unlock()
	if _, err := e.js.PublishMsgAsync(&pe.msg, retryAttempts0...); err != nil {
		if e.take(&pe.msg) != nil {
			e.failed(pe, err)
		}
	}
}

// failed retries a failed attempt after a backoff, or gives up when the
// failure is not transient or the bound would pass first.
func (e *emitter) failed(pe *pendingEmit, err error) {
	if len(pe.lead) > 0 && retry.APICode(err) == codeBatchDuplicate {
		// A message of the batch was stored already: by an earlier
		// attempt of this batch (then all were), or alone, before the
		// phase changed. Each is sent alone; the stream drops what it has.
		go e.sendApart(pe)
		return
	}
	if !retry.Transient(err) && !errors.Is(err, jetstream.ErrTooManyStalledMsgs) && !batchTransient(err) {
		pe.resolve(err)
		return
	}
	d := e.policy.Delay(pe.attempt)
	until := pe.inv.bound
	if until.IsZero() {
		until = pe.first.Add(emitBudget) // a handler without a bound (WithTimeout(0))
	}
	if time.Now().Add(d + minEmitAttempt).After(until) {
		pe.resolve(fmt.Errorf("%w (gave up after %d attempts at the handler's deadline)", err, pe.attempt))
		return
	}
	time.AfterFunc(d, func() { e.send(pe) })
}

// minEmitAttempt is the least time left before the bound worth an attempt.
const minEmitAttempt = 10 * time.Millisecond

// emitBudget bounds the retries of an emit whose handler has no bound.
const emitBudget = 30 * time.Second

// resolve ends the emit: durable (err nil) or failed for good.
func (pe *pendingEmit) resolve(err error) {
	if err != nil {
		if len(pe.lead) > 0 && retry.APICode(err) == codeBatchNotEnabled {
			err = fmt.Errorf("%w: the stream needs AllowAtomicPublish (runtime.Service.Stream sets it; nats-server 2.12 or later)", err)
		}
		err = Unavailable(err, "%s could not be published", pe.msg.Subject)
	}
	pe.endSpans(err)
	pe.inv.emitDone(err, pe.async)
	if pe.wait != nil {
		pe.wait <- err
	}
}

// endSpans ends the emit's producer spans.
func (pe *pendingEmit) endSpans(err error) {
	if pe.span != nil {
		EndSpan(pe.span, err)
	}
	for _, sp := range pe.leadSpans {
		EndSpan(sp, err)
	}
}

// The headers of a JetStream atomic batch (ADR-50), spoken here rather than
// through orbit.go's jetstreamext.PublishMsgBatch, which waits for the
// commit's answer: the batch's leading messages go out as plain publishes
// and its commit through the emitter's asynchronous publish, so that an
// event handler's worker hands a batch over as it does a single emit.
const (
	headerBatchID     = "Nats-Batch-Id"
	headerBatchSeq    = "Nats-Batch-Sequence"
	headerBatchCommit = "Nats-Batch-Commit"
)

// JetStream's errors about a batch.
const (
	codeBatchNotEnabled  jetstream.ErrorCode = 10174
	codeBatchIncomplete  jetstream.ErrorCode = 10176
	codeBatchDuplicate                       = retry.CodeBatchDuplicate
	codeAtomicTooMany    jetstream.ErrorCode = 10210
	codeBatchTooManySent jetstream.ErrorCode = 10211
)

// batchTransient reports a batch failure that a new attempt may not meet:
// a leading message lost on the way, or too many batches in flight.
func batchTransient(err error) bool {
	switch retry.APICode(err) {
	case codeBatchIncomplete, codeAtomicTooMany, codeBatchTooManySent:
		return true
	}
	return false
}

// sendLead stamps a new batch id on the batch's messages and publishes the
// leading ones; the caller then publishes the commit.
func (e *emitter) sendLead(pe *pendingEmit) error {
	id := []string{nuid.Next()}
	for i, m := range pe.lead {
		m.Header[headerBatchID] = id
		m.Header[headerBatchSeq] = []string{strconv.Itoa(i + 1)}
		if err := e.js.Conn().PublishMsg(m); err != nil {
			return err
		}
	}
	pe.msg.Header[headerBatchID] = id
	pe.msg.Header[headerBatchSeq] = []string{strconv.Itoa(len(pe.lead) + 1)}
	pe.msg.Header[headerBatchCommit] = []string{"1"}
	return nil
}

// sendApart publishes a batch's messages one by one, each awaited, after
// the stream refused the batch for an id it has stored: what is stored is
// dropped as a duplicate, what is not is stored now.
func (e *emitter) sendApart(pe *pendingEmit) {
	until := pe.inv.bound
	if until.IsZero() {
		until = time.Now().Add(emitBudget)
	}
	ctx, cancel := context.WithDeadline(context.Background(), until)
	defer cancel()
	all := append(append([]*nats.Msg(nil), pe.lead...), &pe.msg)
	for _, m := range all {
		one := &nats.Msg{Subject: m.Subject, Data: m.Data, Header: nats.Header{}}
		for k, v := range m.Header {
			if k != headerBatchID && k != headerBatchSeq && k != headerBatchCommit {
				one.Header[k] = v
			}
		}
		err := emitPolicy.Do(ctx, func(ctx context.Context) error {
			_, err := e.js.PublishMsg(ctx, one, retryAttempts0...)
			return err
		})
		if err != nil {
			pe.resolve(err)
			return
		}
	}
	pe.resolve(nil)
}
