package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
	"go.opentelemetry.io/otel/trace"
)

// Topic is an event type: the subject it is published on, the stream that
// stores it, and its schema. contracts.Event implements it.
type Topic interface {
	Schema
	// Subject is the event subject, e.g. "orders.created".
	Subject() string
	// Stream is the name of the stream that stores the subject.
	Stream() string
}

// OnEvent runs fn for every event on the topic's subject, through a durable
// pull consumer "<service>-<name>" that every instance shares. A nil error
// acks; a permanent error (4xx, or Permanent) terminates and dead-letters at
// once; any other error is retried after the BackOff delay until MaxDeliver,
// then dead-lettered.
func OnEvent[In any](svc *Service, name string, t Topic, fn func(ctx context.Context, in In) error, opts ...EventOption) {
	svc.events = append(svc.events, &eventHandler{name: name, topic: t, opts: newEventOptions(opts), core: typedEvent(fn)})
}

// eventHandler is an event handler as declared.
type eventHandler struct {
	name  string
	topic Topic
	opts  eventOptions
	core  Handler
}

// consumerName is the handler's durable consumer in a service.
func (h *eventHandler) consumerName(service string) string { return service + "-" + h.name }

// eventRun is an event handler served by one running instance.
type eventRun struct {
	*eventHandler
	run      *serviceRun
	opts     eventOptions // the declaration's, with NATSFN_ACK_WAIT applied
	consumer string
	h        Handler
	loop     *consumerLoop
	pool     *pool[delivery]
	// unsettled counts deliveries taken and not yet settled: handled, or
	// awaiting their emits' PubAcks.
	unsettled atomic.Int64
	// wasPaused is whether the consumer was last seen paused (by
	// refreshPending, or because a handler here called Pause); pollPending
	// then looks at it every pausedRefresh, to notice the resume soon.
	wasPaused atomic.Bool
	holding   *holding
	// plan routes the handler's emits by phase; readers read each
	// accepted subject, order lists them by preference (own first).
	plan    *emitPlan
	readers map[string]*reader
	order   []string
	stats   eventStats
	metrics *handlerMetrics
}

// delivery is a message for the handler's workers: of its own consumer,
// or a replay of a dead letter.
type delivery struct {
	msg    jetstream.Msg
	replay bool
}

// newEventRun prepares a handler for the instance; bind starts it.
func (r *serviceRun) newEventRun(h *eventHandler) *eventRun {
	er := &eventRun{eventHandler: h, run: r, opts: h.opts, consumer: h.consumerName(r.svc.cfg.Name)}
	if r.cfg.AckWait > 0 {
		er.opts.ackWait = r.cfg.AckWait
	}
	site := handlerSite{kind: KindEvent, name: h.name, subject: h.topic.Subject(), stream: h.topic.Stream(), consumer: er.consumer}
	er.metrics = r.metricsFor(site)
	er.plan = planEmits(er.opts.handlerOptions, r.phases)
	er.readers, er.order = readersOf(h.topic, h.opts.accepts)
	er.h = r.chain(h.core, er.opts.handlerOptions, site, er.metrics)
	// A short queue: when the workers are busy, Consume's callback waits
	// and what the instance has not taken stays in the stream for the
	// others (and for the next instance, at a shutdown).
	workers := min(er.opts.concurrency, max(er.opts.maxAckPending, 1))
	er.pool = newPool(workers, workers, er.run1)
	er.holding = newHolding(er.opts.ackWait)
	r.pools = append(r.pools, er)
	er.loop = &consumerLoop{
		run:    r,
		label:  h.name,
		stream: h.topic.Stream(),
		cfg: jetstream.ConsumerConfig{
			Durable:       er.consumer,
			Description:   fmt.Sprintf("natsfn %s handler %s", r.svc.cfg.Name, h.name),
			FilterSubject: h.topic.Subject(),
			// FilterSubjects, when the handler Accepts other majors.
			DeliverPolicy: jetstream.DeliverAllPolicy,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       er.opts.ackWait,
			MaxDeliver:    er.opts.maxDeliver,
			MaxAckPending: er.opts.maxAckPending,
		},
		batch:    min(2*er.opts.concurrency, er.opts.maxAckPending),
		dispatch: er.dispatch,
		pending:  &er.stats.pendingFigures,
		mode:     er.opts.mode,
		adopt:    er.adopt,
	}
	if len(er.order) > 1 {
		er.loop.cfg.FilterSubject = ""
		er.loop.cfg.FilterSubjects = er.order
	}
	return er
}

// schemaFor is what reads an event on subject for the handler: its
// reader, or the handler's topic for a subject it does not know (a dead
// letter of another version), which then refuses it.
func (e *eventRun) schemaFor(subject string) Schema {
	if r, ok := e.readers[subject]; ok {
		return r
	}
	return e.readers[e.topic.Subject()]
}

// consumes lists the schema ids the handler reads, its own first.
func (e *eventRun) consumes() []string {
	ids := make([]string, len(e.order))
	for i, s := range e.order {
		ids[i] = e.readers[s].src.ID()
	}
	return ids
}

// start binds the consumer and lists the handler as a micro endpoint whose
// stats data carries its figures.
func (e *eventRun) start(ctx context.Context) error {
	if err := e.run.retryStart(ctx, "consumer "+e.consumer, 0, e.loop.bind); err != nil {
		return err
	}
	md := map[string]string{
		"kind":     "event",
		"stream":   e.topic.Stream(),
		"consumer": e.consumer,
		"trigger":  e.topic.Subject(),
		"schema":   e.topic.ID(),
	}
	if e.opts.description != "" {
		md["description"] = e.opts.description
	}
	if len(e.opts.emits) > 0 {
		md["emits"] = strings.Join(e.opts.emits, ",")
	}
	e.run.producesMetadata(md, e.opts.handlerOptions, e.plan)
	md["consumes"] = strings.Join(e.consumes(), ",")
	if len(e.order) > 1 {
		// "trigger" stays the handler's own subject (the console reads one).
		md["triggers"] = strings.Join(e.order, ",")
	}
	return e.run.micro.AddEndpoint(e.name, micro.HandlerFunc(e.serveInfo),
		micro.WithEndpointSubject(e.run.svc.cfg.Name+".events."+e.name), micro.WithEndpointMetadata(md))
}

// dispatch runs on Consume's goroutine: it queues each message for the
// handler's workers, waiting when the queue is full.
func (e *eventRun) dispatch(msg jetstream.Msg) { e.pool.put(delivery{msg: msg}) }

// run1 runs one delivery on a worker.
func (e *eventRun) run1(d delivery) {
	if d.replay {
		e.processReplay(d.msg)
		return
	}
	e.process(d.msg)
}

// idle reports whether nothing is queued, running or awaiting its emits.
func (e *eventRun) idle() bool { return e.pool.idle() && e.unsettled.Load() == 0 }

// stop ends the workers and the keep-alive loop.
func (e *eventRun) stop() {
	e.pool.stop()
	e.holding.stop()
}

func (e *eventRun) process(msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		_ = msg.TermWithReason("not a JetStream message")
		return
	}
	if e.twinOf(msg.Subject(), msg.Headers().Get(HeaderTwins)) {
		// The batch that stored this copy stored the one the handler
		// prefers too, which it handles: this one is done.
		e.stats.twins.Add(1)
		_ = msg.Ack()
		return
	}
	inv := e.run.newInvocation(e, e.plan)
	*inv.msg = Message{
		Kind:      KindEvent,
		Service:   e.run.svc.cfg.Name,
		Handler:   e.name,
		Subject:   msg.Subject(),
		Header:    msg.Headers(),
		Data:      msg.Data(),
		Schema:    e.schemaFor(msg.Subject()),
		Stream:    md.Stream,
		Sequence:  md.Sequence.Stream,
		Consumer:  md.Consumer,
		Delivered: int(md.NumDelivered),
	}
	e.handle(msg, inv, nil)
}

// handle runs one delivery, of the handler's own consumer or a replay
// (then replay is the replay message), and settles it once the handler
// returned and its emits are stored: on this worker when they are already,
// or from the last PubAck's callback, so that the worker takes the next
// message instead of waiting for the stream.
func (e *eventRun) handle(msg jetstream.Msg, inv *invocation, replay *replayed) {
	e.stats.delivered.Add(1)
	if inv.msg.Delivered > 1 {
		e.stats.redelivered.Add(1)
		e.metrics.redelivery()
	}
	e.stats.inFlight.Add(1)
	e.unsettled.Add(1)
	start := time.Now()
	inv.replay = replay
	e.holding.hold(inv, msg, start)
	_, err := e.h.Handle(inv, inv.msg)
	e.stats.processing.Add(int64(time.Since(start)))
	inv.finish(err)
}

// settled settles a delivery once its handler returned and its emits are
// resolved, with their outcome.
func (e *eventRun) settled(inv *invocation, err error) {
	msg, replay := inv.held, inv.replay
	e.holding.release(inv)
	e.settle(msg, inv, err, replay)
	inv.release()
	e.stats.inFlight.Add(-1)
	e.unsettled.Add(-1)
}

// settle acks, naks or terminates the message after its handler ran. The
// handler's emits were awaited already, so an ack means durable effects.
func (e *eventRun) settle(msg jetstream.Msg, inv *invocation, err error, replay *replayed) {
	m := inv.msg
	if err == nil {
		e.stats.acked.Add(1)
		e.metrics.settle(settleAck)
		replay.remove(e.run)
		_ = msg.Ack()
		return
	}
	reason := err.Error()
	e.stats.lastError.Store(&reason)
	final := isPermanent(err)
	if !final && e.opts.maxDeliver > 0 && m.Delivered >= e.opts.maxDeliver {
		final = true
		reason = "max deliveries (" + strconv.Itoa(e.opts.maxDeliver) + ") exhausted: " + reason
	}
	if !final {
		delay, ok := retryDelay(err)
		if !ok {
			delay = e.opts.delayFor(m.Delivered)
		}
		e.stats.naked.Add(1)
		e.metrics.settle(settleNak)
		_ = msg.NakWithDelay(delay)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(e.run.base), 5*time.Second)
	defer cancel()
	if inv.span.IsValid() {
		// The dead letter's span is a child of the handler's span.
		ctx = trace.ContextWithSpanContext(ctx, inv.span)
	}
	if dlErr := e.run.dlq.store(ctx, e, deadLetterOf(m, msg.Data(), reason), replay.idSuffix()); dlErr != nil {
		// Keep the message rather than lose it: it comes back after the delay.
		e.run.logger.ErrorContext(ctx, "dead-letter failed; retrying the message", "handler", e.name, "error", dlErr)
		e.stats.naked.Add(1)
		e.metrics.settle(settleNak)
		_ = msg.NakWithDelay(e.opts.delayFor(m.Delivered))
		return
	}
	e.stats.terminated.Add(1)
	e.metrics.settle(settleTerm)
	replay.remove(e.run)
	_ = msg.TermWithReason(truncate(reason, 256))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// serveInfo answers a request to the handler's endpoint subject with its
// figures, so `nats req <svc>.events.<name> ”` shows them too.
func (e *eventRun) serveInfo(req micro.Request) {
	b, _ := json.Marshal(e.figures())
	_ = req.Respond(b)
}

// refreshPending copies the consumer's pending counts into the stats data,
// which must be read without a network call, and wakes the consumer when
// it was resumed (see consumerLoop.kick).
func (e *eventRun) refreshPending(ctx context.Context) {
	info := e.loop.info(ctx)
	if info == nil {
		return
	}
	e.stats.fromInfo(info)
	if e.wasPaused.Swap(info.Paused) && !info.Paused {
		e.run.background.Add(1)
		go func() {
			defer e.run.background.Done()
			e.loop.kick()
		}()
	}
}

// Pause stops the current event handler's consumer from delivering until d
// has passed, for every instance: the server's consumer pause. Use it when a
// dependency is down (a circuit breaker opened), together with RetryAfter.
func Pause(ctx context.Context, d time.Duration) error {
	inv := invocationFrom(ctx)
	if inv == nil || inv.ev == nil {
		return fmt.Errorf("runtime.Pause outside an event handler: %w", ErrInternal)
	}
	e := inv.ev
	if _, err := e.run.js.PauseConsumer(ctx, e.topic.Stream(), e.consumer, time.Now().Add(d)); err != nil {
		return Unavailable(err, "consumer %s could not be paused", e.consumer)
	}
	e.wasPaused.Store(true)
	return nil
}
