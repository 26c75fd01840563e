package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
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
	pool     *pool
	stats    eventStats
	metrics  *handlerMetrics
}

// newEventRun prepares a handler for the instance; bind starts it.
func (r *serviceRun) newEventRun(h *eventHandler) *eventRun {
	er := &eventRun{eventHandler: h, run: r, opts: h.opts, consumer: h.consumerName(r.svc.cfg.Name)}
	if r.cfg.AckWait > 0 {
		er.opts.ackWait = r.cfg.AckWait
	}
	site := handlerSite{kind: KindEvent, name: h.name, subject: h.topic.Subject(), stream: h.topic.Stream(), consumer: er.consumer}
	er.metrics = r.metricsFor(site)
	er.h = r.chain(h.core, er.opts.handlerOptions, site, er.metrics)
	er.pool = newPool(min(er.opts.concurrency, max(er.opts.maxAckPending, 1)))
	r.pools = append(r.pools, er.pool)
	er.loop = &consumerLoop{
		run:    r,
		label:  h.name,
		stream: h.topic.Stream(),
		cfg: jetstream.ConsumerConfig{
			Durable:       er.consumer,
			Description:   fmt.Sprintf("natsfn %s handler %s", r.svc.cfg.Name, h.name),
			FilterSubject: h.topic.Subject(),
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
	return er
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
	return e.run.micro.AddEndpoint(e.name, micro.HandlerFunc(e.serveInfo),
		micro.WithEndpointSubject(e.run.svc.cfg.Name+".events."+e.name), micro.WithEndpointMetadata(md))
}

// dispatch runs on Consume's goroutine: it hands each message to a bounded
// pool, blocking when the pool is full.
func (e *eventRun) dispatch(msg jetstream.Msg) {
	e.pool.run(func() { e.process(msg) })
}

func (e *eventRun) process(msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		_ = msg.TermWithReason("not a JetStream message")
		return
	}
	inv := e.run.newInvocation(e, e.opts.emits)
	*inv.msg = Message{
		Kind:      KindEvent,
		Service:   e.run.svc.cfg.Name,
		Handler:   e.name,
		Subject:   msg.Subject(),
		Header:    msg.Headers(),
		Data:      msg.Data(),
		Schema:    e.topic,
		Stream:    md.Stream,
		Sequence:  md.Sequence.Stream,
		Consumer:  md.Consumer,
		Delivered: int(md.NumDelivered),
	}
	e.handle(msg, inv, nil)
}

// handle runs one delivery, of the handler's own consumer or a replay
// (then replay is the replay message), and settles it.
func (e *eventRun) handle(msg jetstream.Msg, inv *invocation, replay *replayed) {
	e.stats.delivered.Add(1)
	if inv.msg.Delivered > 1 {
		e.stats.redelivered.Add(1)
		e.metrics.redelivery()
	}
	e.stats.inFlight.Add(1)
	start := time.Now()
	keepAlive := e.keepAlive(msg)
	_, err := e.h.Handle(inv, inv.msg)
	keepAlive.Stop()
	e.stats.processing.Add(int64(time.Since(start)))
	e.settle(msg, inv, err, replay)
	e.stats.inFlight.Add(-1)
}

// keepAlive tells the server the message is in progress every half AckWait,
// so a long handler is not redelivered to another instance.
func (e *eventRun) keepAlive(msg jetstream.Msg) *time.Timer {
	every := e.opts.ackWait / 2
	var t *time.Timer
	t = time.AfterFunc(every, func() {
		if msg.InProgress() == nil {
			t.Reset(every)
		}
	})
	return t
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
	return nil
}
