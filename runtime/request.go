package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"go.opentelemetry.io/otel/trace"

	"github.com/natsfn/natsfn/runtime/internal/retry"
)

// Request calls another function's endpoint from a handler: it sends in,
// as JSON, to subject (e.g. "inventory.stock.get") and decodes the reply
// into an Out. The request carries the handler's deadline
// (HeaderDeadline), so the callee gives up when the caller would, its
// correlation id, and its trace context (traceparent; a client span when
// tracing is on). It waits for the handler's emits first (Flush).
//
// An error reply comes back as an error of the same kind (errors.Is finds
// ErrNotFound for a 404, ErrDeadline for a 504...) whose text is the
// callee's description; nobody answering, or no answer before the
// deadline, is ErrUnavailable. A request nobody received (no responders:
// the callee restarting) is sent again with backoff until the deadline;
// one that may have been received is not.
func Request[Out any](ctx context.Context, subject string, in any) (Out, error) {
	var out Out
	inv := invocationFrom(ctx)
	if inv == nil {
		return out, fmt.Errorf("runtime.Request %s outside a handler: %w", subject, ErrInternal)
	}
	if err := inv.awaitEmits(); err != nil {
		return out, err
	}
	data, err := json.Marshal(in)
	if err != nil {
		return out, fmt.Errorf("request %s: encode: %v: %w", subject, err, ErrInternal)
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(defaultEndpointTimeout)
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, deadline)
		defer cancel()
	}
	msg := &nats.Msg{Subject: subject, Data: data, Header: nats.Header{}}
	msg.Header[HeaderDeadline] = []string{formatDeadline(deadline)}
	msg.Header[HeaderCorrelationID] = []string{inv.msg.CorrelationID()}
	span := inv.traceRequest(ctx, subject, msg.Header)
	reply, err := inv.run.request(ctx, msg)
	if err == nil {
		err = replyError(subject, reply)
	}
	if err == nil && len(reply.Data) > 0 {
		if jerr := json.Unmarshal(reply.Data, &out); jerr != nil {
			err = fmt.Errorf("request %s: reply: %v: %w", subject, jerr, ErrInternal)
		}
	}
	if span != nil {
		EndSpan(span, err)
	}
	return out, err
}

// requestPolicy spaces the retries of a request nobody received.
var requestPolicy = retry.Policy{Initial: 20 * time.Millisecond, Max: time.Second}

// request sends msg until somebody receives it or ctx ends.
func (r *serviceRun) request(ctx context.Context, msg *nats.Msg) (*nats.Msg, error) {
	for attempt := 1; ; attempt++ {
		reply, err := r.nc.RequestMsgWithContext(ctx, msg)
		switch {
		case err == nil:
			return reply, nil
		case errors.Is(err, nats.ErrNoResponders):
			if requestPolicy.Pause(ctx, attempt) == nil {
				continue
			}
			return nil, Unavailable(err, "%s: nobody answers", msg.Subject)
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
			return nil, Unavailable(err, "%s did not answer before the deadline", msg.Subject)
		default:
			return nil, Unavailable(err, "%s could not be called", msg.Subject)
		}
	}
}

// replyError is the error a micro error reply stands for, or nil.
func replyError(subject string, reply *nats.Msg) error {
	code := reply.Header.Get(micro.ErrorCodeHeader)
	if code == "" {
		return nil
	}
	desc := reply.Header.Get(micro.ErrorHeader)
	n, _ := strconv.Atoi(code)
	kind := ErrInternal
	for _, c := range codeOf {
		if c.code == n {
			kind = c.err
			break
		}
	}
	return Errorf(kind, "%s: %s (%s)", subject, desc, code)
}

// traceRequest starts a client span for a request, or with tracing off
// passes on the trigger's trace context.
func (inv *invocation) traceRequest(ctx context.Context, subject string, h nats.Header) trace.Span {
	if spans := inv.run.spans; spans != nil {
		return startClient(ctx, spans, subject, h)
	}
	inv.copyTraceContext(h)
	return nil
}
