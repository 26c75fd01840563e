package runtime

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"go.opentelemetry.io/otel/trace"
)

// Endpoint registers fn as a request/reply micro endpoint on the subject
// "<service>.<name>", e.g. Endpoint(svc, "stock.get", getStock) serves
// inventory.stock.get. Instances share requests through micro's queue group.
func Endpoint[In, Out any](svc *Service, name string, fn Func[In, Out], opts ...Option) {
	svc.endpoints = append(svc.endpoints, &endpoint{
		svc:  svc,
		name: name,
		opts: newHandlerOptions(opts),
		core: typed(fn),
	})
}

type endpoint struct {
	name    string
	opts    handlerOptions
	core    Handler
	h       Handler
	svc     *Service
	pool    *pool
	stats   endpointStats
	metrics *handlerMetrics
}

// microName is the endpoint's name in micro, which allows no dots.
func (e *endpoint) microName() string { return strings.ReplaceAll(e.name, ".", "-") }

func (e *endpoint) subject() string { return e.svc.cfg.Name + "." + e.name }

// register adds the endpoint to the micro service.
func (e *endpoint) register(svc *Service) error {
	site := handlerSite{kind: KindRequest, name: e.name, subject: e.subject()}
	e.metrics = svc.metricsFor(site)
	e.h = svc.chain(e.core, e.opts, site, e.metrics)
	if e.opts.concurrency == 0 {
		e.opts.concurrency = 1
	}
	if e.opts.concurrency > 1 {
		e.pool = newPool(e.opts.concurrency)
		svc.pools = append(svc.pools, e.pool)
	}
	md := map[string]string{"kind": "endpoint", "concurrency": strconv.Itoa(e.opts.concurrency)}
	if e.opts.schema != nil {
		md["schema"] = e.opts.schema.ID()
	}
	if e.opts.description != "" {
		md["description"] = e.opts.description
	}
	for k, v := range e.opts.metadata {
		md[k] = v
	}
	return svc.micro.AddEndpoint(e.microName(), micro.HandlerFunc(e.serve),
		micro.WithEndpointSubject(e.subject()), micro.WithEndpointMetadata(md))
}

// serve runs on micro's subscription goroutine. With concurrency above 1 it
// hands the request to a bounded pool; when the pool is full it blocks, so
// the subscription's pending limits push back on callers.
func (e *endpoint) serve(req micro.Request) {
	if e.pool == nil {
		e.handle(req, true)
		return
	}
	e.pool.run(func() { e.handle(req, false) })
}

func (e *endpoint) handle(req micro.Request, inline bool) {
	start := time.Now()
	e.stats.inFlight.Add(1)
	inv := e.svc.newInvocation(nil)
	m := inv.msg
	*m = Message{
		Kind:    KindRequest,
		Service: e.svc.cfg.Name,
		Handler: e.name,
		Subject: req.Subject(),
		Header:  nats.Header(req.Headers()),
		Data:    req.Data(),
		Schema:  e.opts.schema,
	}
	out, err := e.h.Handle(inv, m)
	e.reply(req, m, out, err, inline)
	e.stats.inFlight.Add(-1)
	e.stats.record(time.Since(start), err)
}

// reply answers through micro when inline, so that micro's own figures count
// the error; from the pool it publishes the same message itself, because
// micro's request is not safe to touch after its handler returned.
func (e *endpoint) reply(req micro.Request, m *Message, out []byte, err error, inline bool) {
	// The reply names the correlation id when the caller sent one or the
	// handler used one; a bare request/reply stays header-free and cheap.
	var hdr nats.Header
	if m.HeaderValue(HeaderCorrelationID) != "" || m.correlationUsed() {
		hdr = nats.Header{HeaderCorrelationID: []string{m.CorrelationID()}}
	}
	if err != nil {
		body := errorBody(err)
		out = body.encode()
		code, desc := strconv.Itoa(body.Code), oneLine(body.Description)
		if inline {
			_ = req.Error(code, desc, out, micro.WithHeaders(micro.Headers(hdr)))
			return
		}
		if hdr == nil {
			hdr = nats.Header{}
		}
		hdr.Set(micro.ErrorCodeHeader, code)
		hdr.Set(micro.ErrorHeader, desc)
	} else if inline {
		if hdr == nil {
			_ = req.Respond(out)
		} else {
			_ = req.Respond(out, micro.WithHeaders(micro.Headers(hdr)))
		}
		return
	}
	if req.Reply() == "" {
		return
	}
	if perr := e.svc.nc.PublishMsg(&nats.Msg{Subject: req.Reply(), Header: hdr, Data: out}); perr != nil {
		e.svc.logger.Warn("reply failed", "handler", e.name, "error", perr)
	}
}

// oneLine keeps a header value on one line.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// invocation is what a handler's context carries: its message and service,
// the emit counters that make Nats-Msg-Id deterministic, and the context of
// the handler's span (set by the tracing middleware when tracing is on).
//
// It is the handler's context itself, so that one allocation holds the
// context, the invocation and its message. Its parent is the service's
// base context without its cancellation: a handler runs to its end (or its
// Timeout) during a graceful shutdown, and a context derived from it (the
// Timeout middleware's) costs no registration with a cancellable parent.
type invocation struct {
	context.Context
	message Message
	msg     *Message
	svc     *Service
	ev      *eventHandler
	span    trace.SpanContext

	mu  sync.Mutex
	seq map[string]int
}

type invocationKey struct{}

func withInvocation(ctx context.Context, inv *invocation) context.Context {
	return context.WithValue(ctx, invocationKey{}, inv)
}

// newInvocation returns a handler context for one message of the service
// (of event handler ev, or nil for a request).
func (s *Service) newInvocation(ev *eventHandler) *invocation {
	inv := &invocation{Context: s.handlerCtx, svc: s, ev: ev}
	inv.msg = &inv.message
	return inv
}

// Value finds the invocation itself, and everything else in its parent.
func (inv *invocation) Value(key any) any {
	if key == (invocationKey{}) {
		return inv
	}
	return inv.Context.Value(key)
}

func invocationFrom(ctx context.Context) *invocation {
	inv, _ := ctx.Value(invocationKey{}).(*invocation)
	return inv
}
