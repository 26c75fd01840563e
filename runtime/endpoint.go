package runtime

import (
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// Endpoint registers fn as a request/reply micro endpoint on the subject
// "<service>.<name>", e.g. Endpoint(svc, "stock.get", getStock) serves
// inventory.stock.get. Instances share requests through micro's queue group.
func Endpoint[In, Out any](svc *Service, name string, fn Func[In, Out], opts ...EndpointOption) {
	svc.endpoints = append(svc.endpoints, &endpoint{name: name, opts: newEndpointOptions(opts), core: typed(fn)})
}

// endpoint is an endpoint as declared.
type endpoint struct {
	name string
	opts endpointOptions
	core Handler
}

// microName is the endpoint's name in micro, which allows no dots.
func (e *endpoint) microName() string { return strings.ReplaceAll(e.name, ".", "-") }

// endpointRun is an endpoint served by one running instance.
type endpointRun struct {
	*endpoint
	run     *serviceRun
	subject string
	h       Handler
	pool    *pool
	stats   endpointStats
	metrics *handlerMetrics
}

// newEndpointRun prepares an endpoint for the instance; register serves it.
func (r *serviceRun) newEndpointRun(e *endpoint) *endpointRun {
	er := &endpointRun{endpoint: e, run: r, subject: r.svc.cfg.Name + "." + e.name}
	site := handlerSite{kind: KindRequest, name: e.name, subject: er.subject}
	er.metrics = r.metricsFor(site)
	er.h = r.chain(e.core, e.opts.handlerOptions, site, er.metrics)
	if e.opts.concurrency > 1 {
		er.pool = newPool(e.opts.concurrency)
		r.pools = append(r.pools, er.pool)
	}
	return er
}

// register adds the endpoint to the instance's micro service.
func (e *endpointRun) register() error {
	md := map[string]string{"kind": "endpoint", "concurrency": strconv.Itoa(e.opts.concurrency)}
	if e.opts.schema != nil {
		md["schema"] = e.opts.schema.ID()
	}
	if e.opts.description != "" {
		md["description"] = e.opts.description
	}
	if len(e.opts.emits) > 0 {
		md["emits"] = strings.Join(e.opts.emits, ",")
	}
	return e.run.micro.AddEndpoint(e.microName(), micro.HandlerFunc(e.serve),
		micro.WithEndpointSubject(e.subject), micro.WithEndpointMetadata(md))
}

// serve runs on micro's subscription goroutine. With concurrency above 1 it
// hands the request to a bounded pool; when the pool is full it blocks, so
// the subscription's pending limits push back on callers.
func (e *endpointRun) serve(req micro.Request) {
	if e.pool == nil {
		e.handle(req, true)
		return
	}
	e.pool.run(func() { e.handle(req, false) })
}

func (e *endpointRun) handle(req micro.Request, inline bool) {
	start := time.Now()
	e.stats.inFlight.Add(1)
	inv := e.run.newInvocation(nil, e.opts.emits)
	m := inv.msg
	*m = Message{
		Kind:    KindRequest,
		Service: e.run.svc.cfg.Name,
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
func (e *endpointRun) reply(req micro.Request, m *Message, out []byte, err error, inline bool) {
	// The reply names the correlation id when the caller sent one or the
	// handler used one; a bare request/reply stays header-free and cheap.
	// Reading made without the Once is safe: it is written inside the
	// Once, and only the handler's own goroutine replies.
	var hdr nats.Header
	if m.HeaderValue(HeaderCorrelationID) != "" || m.made {
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
	if perr := e.run.nc.PublishMsg(&nats.Msg{Subject: req.Reply(), Header: hdr, Data: out}); perr != nil {
		e.run.logger.Warn("reply failed", "handler", e.name, "error", perr)
	}
}

// oneLine keeps a header value on one line.
func oneLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}
