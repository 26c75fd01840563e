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

// Emit validates v against the topic's schema, publishes it to JetStream and
// waits for the stream's ack. Call it from a handler: the event carries the
// handler's correlation id, and its causation id is the triggering message.
//
// In an event handler the Nats-Msg-Id is derived from the triggering message
// (stream, sequence, consumer, subject and the emit's ordinal), so a
// redelivered handler's emits are dropped by the stream's duplicate window.
func Emit(ctx context.Context, t Topic, v any, opts ...EmitOption) error {
	inv := invocationFrom(ctx)
	if inv == nil {
		return fmt.Errorf("runtime.Emit %s outside a handler: %w", t.Subject(), ErrInternal)
	}
	var o emitOptions
	for _, opt := range opts {
		opt(&o)
	}
	r := inv.run
	if inv.emits != nil && !slices.Contains(inv.emits, t.Subject()) {
		return Permanent(fmt.Errorf("emit %s: the handler does not declare it (runtime.Emits lists %s): %w",
			t.Subject(), strings.Join(inv.emits, ", "), ErrInternal))
	}
	data, err := json.Marshal(v)
	if err != nil {
		return Permanent(fmt.Errorf("emit %s: encode: %v: %w", t.Subject(), err, ErrInternal))
	}
	if err := t.Validate(data); err != nil {
		return Permanent(fmt.Errorf("emit %s: %s: %v: %w", t.Subject(), t.ID(), err, ErrInternal))
	}
	id := o.msgID
	if id == "" {
		id = inv.nextMsgID(t.Subject())
	}
	msg := &nats.Msg{Subject: t.Subject(), Data: data, Header: nats.Header{}}
	h := msg.Header
	h.Set(nats.MsgIdHdr, id)
	h[headerCEID] = []string{id}
	h[headerCEType] = []string{t.Subject()}
	h[headerCESource] = []string{r.svc.cfg.Name}
	h[headerCESchema] = []string{t.ID()}
	h[headerCESpecVersion] = []string{"1.0"}
	h[headerCETime] = []string{time.Now().UTC().Format(time.RFC3339Nano)}
	h.Set(HeaderCorrelationID, inv.msg.CorrelationID())
	if cause := inv.msg.ID(); cause != "" {
		h.Set(headerCausationID, cause)
	}
	span := inv.traceEmit(ctx, t.Subject(), id, h)
	_, err = r.js.PublishMsg(ctx, msg)
	if err != nil {
		err = Unavailable(err, "%s could not be published", t.Subject())
	}
	if span != nil {
		EndSpan(span, err)
	}
	return err
}

// traceEmit starts the emit's producer span and puts its traceparent in the
// event's headers. With tracing off it starts nothing and only passes on the
// trace context the triggering message carried, so a trace still crosses a
// function that does not record it.
func (inv *invocation) traceEmit(ctx context.Context, subject, id string, h nats.Header) trace.Span {
	if tr := inv.run.tracer; tr != nil {
		return startSend(ctx, tr, subject, id, h)
	}
	for _, k := range [...]string{"traceparent", "tracestate"} {
		if v := inv.msg.HeaderValue(k); v != "" {
			h[k] = []string{v}
		}
	}
	return nil
}

// nextMsgID returns the deterministic id of the handler's next emit on
// subject; outside an event handler it is random.
func (inv *invocation) nextMsgID(subject string) string {
	if inv.ev == nil {
		return uuid.NewString()
	}
	inv.mu.Lock()
	if inv.seq == nil {
		inv.seq = map[string]int{}
	}
	inv.seq[subject]++
	n := inv.seq[subject]
	inv.mu.Unlock()
	m := inv.msg
	return m.Stream + ":" + strconv.FormatUint(m.Sequence, 10) + ":" + m.Consumer + ":" + subject + ":" + strconv.Itoa(n)
}
