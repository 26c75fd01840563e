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
// one that may have been received is not, unless Resend says it may be.
func Request[Out any](ctx context.Context, subject string, in any, opts ...RequestOption) (Out, error) {
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
	var o requestOptions
	for _, opt := range opts {
		opt(&o)
	}
	span := inv.traceRequest(ctx, subject, msg.Header)
	reply, err := inv.run.request(ctx, msg, o.resend)
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

// RequestOption changes how Request calls an endpoint.
type RequestOption func(*requestOptions)

type requestOptions struct {
	resend time.Duration
}

// Resend lets Request send the request again when no reply came within
// every, then within twice that, and so on (each time with a new reply
// subject), until the deadline: for a read, or an endpoint that
// deduplicates. The doubling keeps a busy callee, slow rather than deaf,
// from getting a request every silence (a 20 s bound and every 2 s give
// at most four attempts, not ten). A reply can be lost while the
// request was handled: the callee's connection dropped and came back
// between the two, and the server refuses a reply sent on a new
// connection to a request received on the old one (allow_responses,
// which every function's NATS user has), or the reply went to a server
// that died. Without Resend the caller waits for its whole deadline:
// payments' charge, asking orders.get with a 20 s bound, waited 20 s after
// orders lost its server in drill a. every below 100ms is taken as 100ms.
func Resend(every time.Duration) RequestOption {
	return func(o *requestOptions) { o.resend = max(every, minResend) }
}

const minResend = 100 * time.Millisecond

// requestPolicy spaces the retries of a request nobody received.
var requestPolicy = retry.Policy{Initial: 20 * time.Millisecond, Max: time.Second}

// request sends msg until somebody receives it or ctx ends, and again
// after a silence of resend when it is positive, then of twice that...
func (r *serviceRun) request(ctx context.Context, msg *nats.Msg, resend time.Duration) (*nats.Msg, error) {
	for attempt := 1; ; attempt++ {
		reply, err := requestOnce(ctx, r.nc, msg, resend)
		switch {
		case err == nil:
			return reply, nil
		case errors.Is(err, nats.ErrNoResponders):
			if requestPolicy.Pause(ctx, attempt) == nil {
				continue
			}
			return nil, Unavailable(err, "%s: nobody answers", msg.Subject)
		case resend > 0 && ctx.Err() == nil && (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout)):
			r.logger.InfoContext(ctx, "no reply; sending the request again", "subject", msg.Subject, "attempt", attempt, "silence", resend)
			resend *= 2
			continue
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout):
			return nil, Unavailable(err, "%s did not answer before the deadline", msg.Subject)
		default:
			return nil, Unavailable(err, "%s could not be called", msg.Subject)
		}
	}
}

// requestOnce makes one attempt, bounded by resend when it is positive.
func requestOnce(ctx context.Context, nc *nats.Conn, msg *nats.Msg, resend time.Duration) (*nats.Msg, error) {
	if resend > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, resend)
		defer cancel()
	}
	return nc.RequestMsgWithContext(ctx, msg)
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
