package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"go.opentelemetry.io/otel/trace"
)

// EmitOption tunes one Emit.
type EmitOption func(*emitOptions)

type emitOptions struct {
	msgID string
}

// MsgID sets the event's Nats-Msg-Id. Endpoints use it to make an emit
// repeatable (e.g. keyed by order id); event handlers get a deterministic id
// without it.
func MsgID(id string) EmitOption { return func(o *emitOptions) { o.msgID = id } }

// Emit validates v against the topic's schema and publishes it to
// JetStream. Call it from a handler: the event carries the handler's
// correlation id, and its causation id is the triggering message.
//
// In an endpoint, Emit returns once the stream stored the event. In an
// event handler it returns once the event is sent, and the runtime acks
// the triggering message only after every emit's PubAck; a failed emit
// makes the message retried as a failed handler would. Until then the
// handler's context waits for the emit before it answers Err or Done, so
// the handler's next NATS, KV or HTTP call starts only once the event is
// stored, and fails if it could not be; Flush waits explicitly.
//
// A failed attempt is made again with the same Nats-Msg-Id, after a
// jittered backoff, until the handler's deadline (a request's) or bound
// (an event handler's WithTimeout); none starts after it.
//
// In an event handler the Nats-Msg-Id is derived from the triggering message
// (stream, sequence, consumer, subject and the emit's ordinal), so a
// redelivered handler's emits are dropped by the stream's duplicate window.
//
// When the operator set a phase for the topic's family (NATSFN_PHASES), the
// event goes out in the majors the phase names, converted by the contracts:
// at dual both majors in one atomic batch (see EmitAll), each copy with its
// own Nats-Msg-Id (an explicit MsgID gets ":<subject>" for the converted
// copy).
func Emit(ctx context.Context, t Topic, v any, opts ...EmitOption) error {
	return emit(ctx, []Outgoing{{t: t, v: v, opts: opts}})
}

// Outgoing is one event of EmitAll: Out makes it.
type Outgoing struct {
	t    Topic
	v    any
	opts []EmitOption
}

// Out is an event for EmitAll.
func Out(t Topic, v any, opts ...EmitOption) Outgoing { return Outgoing{t: t, v: v, opts: opts} }

// EmitAll emits several events of one stream as one JetStream atomic
// batch: the stream stores all of them or none (nats-server 2.12 or later,
// and the stream's AllowAtomicPublish, which Service.Stream sets). A step
// whose events belong together (a state change and its notification)
// uses it so that no consumer ever sees one without the other. Each event
// is validated, routed by its family's phase and given its Nats-Msg-Id as
// Emit does; the batch is retried whole, with the same ids, and the
// handler's message is acked after the batch's commit. Events of several
// streams cannot be one batch: EmitAll refuses them.
func EmitAll(ctx context.Context, events ...Outgoing) error {
	if len(events) == 0 {
		return nil
	}
	return emit(ctx, events)
}

// emit publishes events: one message on the pipelined fast path, several
// as one atomic batch.
func emit(ctx context.Context, events []Outgoing) error {
	inv := invocationFrom(ctx)
	if inv == nil {
		return fmt.Errorf("runtime.Emit %s outside a handler: %w", events[0].t.Subject(), ErrInternal)
	}
	pe := &pendingEmit{inv: inv, async: inv.ev != nil}
	if len(events) == 1 && inv.emits.route(events[0].t) == nil {
		// One message: the fast path, without a batch.
		t := events[0].t
		data, id, err := inv.encode(events[0])
		if err != nil {
			return err
		}
		if inv.expired() {
			return Unavailable(context.DeadlineExceeded, "%s could not be published before the deadline", t.Subject())
		}
		if id == "" {
			id = inv.nextMsgID(t.Subject())
		}
		pe.msg = nats.Msg{Subject: t.Subject(), Data: data, Header: inv.envelope(t, id)}
		pe.span = inv.traceEmit(ctx, t.Subject(), id, pe.msg.Header)
		return inv.publish(pe)
	}
	var msgs []*nats.Msg
	for _, ev := range events {
		out, err := inv.outgoing(ev)
		if err != nil {
			return err
		}
		msgs = append(msgs, out...)
		if s, first := ev.t.Stream(), events[0].t.Stream(); s != first {
			return Permanent(fmt.Errorf("emit %s and %s: in streams %s and %s; an atomic batch is one stream's: %w",
				events[0].t.Subject(), ev.t.Subject(), first, s, ErrInternal))
		}
	}
	if inv.expired() {
		return Unavailable(context.DeadlineExceeded, "%s could not be published before the deadline", msgs[0].Subject)
	}
	last := msgs[len(msgs)-1]
	pe.msg = *last
	pe.span = inv.traceEmit(ctx, last.Subject, last.Header.Get(nats.MsgIdHdr), pe.msg.Header)
	if len(msgs) > 1 {
		pe.lead = msgs[:len(msgs)-1]
		for _, m := range pe.lead {
			if sp := inv.traceEmit(ctx, m.Subject, m.Header.Get(nats.MsgIdHdr), m.Header); sp != nil {
				pe.leadSpans = append(pe.leadSpans, sp)
			}
		}
	}
	return inv.publish(pe)
}

// publish hands an emit to the emitter: an event handler's is pipelined,
// an endpoint's awaited.
func (inv *invocation) publish(pe *pendingEmit) error {
	if err := inv.emitStarted(); err != nil {
		pe.endSpans(err)
		return err
	}
	if pe.async {
		inv.run.emitter.send(pe)
		return nil
	}
	pe.wait = make(chan error, 1)
	inv.run.emitter.send(pe)
	return <-pe.wait
}

// encode checks that the handler declares the event, encodes and
// validates it, and returns its payload and MsgID ("" for none).
func (inv *invocation) encode(ev Outgoing) (data []byte, msgID string, err error) {
	t := ev.t
	var o emitOptions
	for _, opt := range ev.opts {
		opt(&o)
	}
	if p := inv.emits; p != nil && p.subjects != nil && !slices.Contains(p.subjects, t.Subject()) {
		return nil, "", Permanent(fmt.Errorf("emit %s: the handler does not declare it (runtime.Emits lists %s): %w",
			t.Subject(), strings.Join(p.subjects, ", "), ErrInternal))
	}
	data, err = json.Marshal(ev.v)
	if err != nil {
		return nil, "", Permanent(fmt.Errorf("emit %s: encode: %v: %w", t.Subject(), err, ErrInternal))
	}
	if err := t.Validate(data); err != nil {
		return nil, "", Permanent(fmt.Errorf("emit %s: %s: %v: %w", t.Subject(), t.ID(), err, ErrInternal))
	}
	return data, o.msgID, nil
}

// outgoing validates one event and returns its messages: one, or one per
// major of its family's phase, each naming the others as its twins.
func (inv *invocation) outgoing(ev Outgoing) ([]*nats.Msg, error) {
	t := ev.t
	data, msgID, err := inv.encode(ev)
	if err != nil {
		return nil, err
	}
	route := inv.emits.route(t)
	if route == nil {
		return []*nats.Msg{inv.eventMsg(t, data, msgID)}, nil
	}
	out := make([]*nats.Msg, 0, len(route))
	for _, target := range route {
		d, id := data, msgID
		if target.Subject() != t.Subject() {
			if d, err = t.(versioned).Convert(data, target.(versioned).Major()); err != nil {
				return nil, Permanent(fmt.Errorf("emit %s as %s (NATSFN_PHASES): %v: %w", t.Subject(), target.Subject(), err, ErrInternal))
			}
			if id != "" {
				id += ":" + target.Subject()
			}
		}
		out = append(out, inv.eventMsg(target, d, id))
	}
	if len(out) > 1 {
		for i, m := range out {
			var twins []string
			for j, other := range out {
				if j != i {
					twins = append(twins, other.Subject)
				}
			}
			m.Header[HeaderTwins] = []string{strings.Join(twins, ",")}
		}
	}
	return out, nil
}

// eventMsg makes the message of one event on t.
func (inv *invocation) eventMsg(t Topic, data []byte, id string) *nats.Msg {
	if id == "" {
		id = inv.nextMsgID(t.Subject())
	}
	return &nats.Msg{Subject: t.Subject(), Data: data, Header: inv.envelope(t, id)}
}

// envelope returns an event's headers: its Nats-Msg-Id, CloudEvents
// attributes, correlation and causation. The values share one backing
// array: one allocation instead of one per header.
func (inv *invocation) envelope(t Topic, id string) nats.Header {
	var vals [envelopeHeaders]string
	vals[0], vals[1], vals[2] = id, id, t.Subject()
	vals[3], vals[4], vals[5] = inv.run.svc.cfg.Name, dataschemaOf(t), "1.0"
	vals[6] = time.Now().UTC().Format(time.RFC3339Nano)
	vals[7] = inv.msg.CorrelationID()
	vals[8] = inv.causation()
	all := vals[:]
	one := func(i int) []string { return all[i : i+1 : i+1] }
	h := make(nats.Header, envelopeHeaders+2) // room for traceparent, tracestate
	h[nats.MsgIdHdr] = one(0)
	h[headerCEID] = one(1)
	h[headerCEType] = one(2)
	h[headerCESource] = one(3)
	h[headerCESchema] = one(4)
	h[headerCESpecVersion] = one(5)
	h[headerCETime] = one(6)
	h[HeaderCorrelationID] = one(7)
	if vals[8] != "" {
		h[headerCausationID] = one(8)
	}
	return h
}

// envelopeHeaders is how many headers envelope sets at most.
const envelopeHeaders = 9

// causation is the id of the handler's triggering message, computed once.
func (inv *invocation) causation() string {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	if !inv.causeMade {
		inv.cause, inv.causeMade = inv.msg.ID(), true
	}
	return inv.cause
}

// traceEmit starts the emit's producer span and puts its traceparent in the
// event's headers. With tracing off it starts nothing and only passes on the
// trace context the triggering message carried, so a trace still crosses a
// function that does not record it.
func (inv *invocation) traceEmit(ctx context.Context, subject, id string, h nats.Header) trace.Span {
	if spans := inv.run.spans; spans != nil {
		return startSend(ctx, spans, subject, id, h)
	}
	inv.copyTraceContext(h)
	return nil
}

// copyTraceContext copies the trigger's traceparent and tracestate to h.
func (inv *invocation) copyTraceContext(h nats.Header) {
	for _, k := range [...]string{"traceparent", "tracestate"} {
		if v := inv.msg.HeaderValue(k); v != "" {
			h[k] = []string{v}
		}
	}
}

// nextMsgID returns the deterministic id of the handler's next emit on
// subject; outside an event handler it is random.
func (inv *invocation) nextMsgID(subject string) string {
	if inv.ev == nil {
		return uuid.NewString()
	}
	inv.mu.Lock()
	n := 0
	for i := range inv.seq {
		if inv.seq[i].subject == subject {
			inv.seq[i].n++
			n = inv.seq[i].n
			break
		}
	}
	if n == 0 {
		n = 1
		if inv.seq == nil {
			inv.seq = inv.seqFirst[:0]
		}
		inv.seq = append(inv.seq, emitCount{subject: subject, n: 1})
	}
	inv.mu.Unlock()
	m := inv.msg
	var b strings.Builder
	b.Grow(len(m.Stream) + len(m.Consumer) + len(subject) + 28)
	var num [20]byte
	b.WriteString(m.Stream)
	b.WriteByte(':')
	b.Write(strconv.AppendUint(num[:0], m.Sequence, 10))
	b.WriteByte(':')
	b.WriteString(m.Consumer)
	b.WriteByte(':')
	b.WriteString(subject)
	b.WriteByte(':')
	b.Write(strconv.AppendInt(num[:0], int64(n), 10))
	return b.String()
}

// emitCount is how many events a handler emitted on a subject.
type emitCount struct {
	subject string
	n       int
}
