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
	queue   *pool[request]
	plan    *emitPlan
	stats   endpointStats
	metrics *handlerMetrics
}

// request is a request as it waits in an endpoint's queue: since when.
type request struct {
	req     micro.Request
	arrival time.Time
}

// newEndpointRun prepares an endpoint for the instance; register serves it.
func (r *serviceRun) newEndpointRun(e *endpoint) *endpointRun {
	er := &endpointRun{endpoint: e, run: r, subject: r.svc.cfg.Name + "." + e.name}
	site := handlerSite{kind: KindRequest, name: e.name, subject: er.subject}
	er.metrics = r.metricsFor(site)
	er.plan = planEmits(e.opts.handlerOptions, r.phases)
	er.h = r.chain(e.core, e.opts.handlerOptions, site, er.metrics)
	er.queue = newPool(e.opts.concurrency, queueDepth(e.opts.concurrency), er.handle)
	r.pools = append(r.pools, er.queue)
	return er
}

// queueDepth is how many requests an endpoint queues beyond those it
// runs before it sheds load with a 503: enough to ride out a burst, few
// enough that a queued request still has most of its deadline left.
func queueDepth(concurrency int) int { return max(64, 8*concurrency) }

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
	e.run.producesMetadata(md, e.opts.handlerOptions, e.plan)
	return e.run.micro.AddEndpoint(e.microName(), micro.HandlerFunc(e.serve),
		micro.WithEndpointSubject(e.subject), micro.WithEndpointMetadata(md))
}

// serve runs on micro's subscription goroutine. It never blocks: it
// stamps the request with its arrival, from which its deadline counts,
// and queues it for the endpoint's workers, or sheds it with a 503 when
// the queue is full. A subscription that blocked would leave requests
// waiting in nats.go's buffer, uncounted, to be run long after their
// callers gave up.
func (e *endpointRun) serve(req micro.Request) {
	if !e.queue.offer(request{req: req, arrival: time.Now()}) {
		e.stats.shed.Add(1)
		err := Errorf(ErrUnavailable, "%s is busy (%d requests queued); try again", e.subject, e.queue.capacity())
		e.reply(req, &Message{Header: nats.Header(req.Headers())}, nil, err, true)
	}
}

// handle runs one request on a worker.
func (e *endpointRun) handle(j request) {
	start := time.Now()
	e.stats.inFlight.Add(1)
	inv := e.run.newInvocation(nil, e.plan)
	inv.arrival = j.arrival
	m := inv.msg
	req := j.req
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
	inv.finish(err)
	e.reply(req, m, out, err, false)
	inv.release()
	e.stats.inFlight.Add(-1)
	e.stats.record(time.Since(start), err)
}

// reply answers through micro when inline (on micro's goroutine), so that
// micro's own figures count the error; from a worker it publishes the
// same message itself, because micro's request is not safe to touch after
// its handler returned.
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
