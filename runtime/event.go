package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
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
func OnEvent[In, Out any](svc *Service, name string, t Topic, fn Func[In, Out], opts ...Option) {
	svc.events = append(svc.events, &eventHandler{
		svc:   svc,
		name:  name,
		topic: t,
		opts:  newHandlerOptions(opts),
		core:  typed(fn),
	})
}

type eventHandler struct {
	name  string
	topic Topic
	opts  handlerOptions
	core  Handler
	h     Handler
	svc   *Service

	consumer  jetstream.Consumer
	consuming atomic.Pointer[jetstream.ConsumeContext]
	pool      *pool
	hbErrors  atomic.Int32
	// rebinding is true while rebind runs, so one runs at a time.
	rebinding atomic.Bool
	stats     eventStats
	metrics   *handlerMetrics
}

func (h *eventHandler) consumerName() string { return h.svc.cfg.Name + "-" + h.name }

func (h *eventHandler) consumerConfig() jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:       h.consumerName(),
		Description:   fmt.Sprintf("natsfn %s handler %s", h.svc.cfg.Name, h.name),
		FilterSubject: h.topic.Subject(),
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       h.opts.ackWait,
		MaxDeliver:    h.opts.maxDeliver,
		MaxAckPending: h.opts.maxAckPending,
	}
}

// start creates or updates the durable consumer, starts consuming, and lists
// the handler as a micro endpoint whose stats data carries its figures.
func (h *eventHandler) start(ctx context.Context, svc *Service) error {
	site := handlerSite{kind: KindEvent, name: h.name, subject: h.topic.Subject(),
		stream: h.topic.Stream(), consumer: h.consumerName()}
	h.metrics = svc.metricsFor(site)
	h.h = svc.chain(h.core, h.opts, site, h.metrics)
	if h.opts.concurrency == 0 {
		h.opts.concurrency = DefaultEventConcurrency
	}
	h.pool = newPool(min(h.opts.concurrency, max(h.opts.maxAckPending, 1)))
	svc.pools = append(svc.pools, h.pool)
	if err := svc.retryStart(ctx, "consumer "+h.consumerName(), 0, h.bind); err != nil {
		return err
	}
	md := map[string]string{
		"kind":     "event",
		"stream":   h.topic.Stream(),
		"consumer": h.consumerName(),
		"trigger":  h.topic.Subject(),
		"schema":   h.topic.ID(),
	}
	if h.opts.description != "" {
		md["description"] = h.opts.description
	}
	return svc.micro.AddEndpoint(h.name, micro.HandlerFunc(h.serveInfo),
		micro.WithEndpointSubject(svc.cfg.Name+".events."+h.name), micro.WithEndpointMetadata(md))
}

// bind (re)creates the consumer and starts a Consume loop on it. The stream
// belongs to the function that publishes to it, so bind waits for it to
// appear: functions may start in any order.
func (h *eventHandler) bind(ctx context.Context) error {
	var cons jetstream.Consumer
	var err error
	// An update without PauseUntil leaves a pause in place (the server
	// keeps it; TestPauseSurvivesAnotherInstance checks), so a starting
	// instance does not undo another one's open breaker.
	cfg := h.consumerConfig()
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		cons, err = h.svc.js.CreateOrUpdateConsumer(ctx, h.topic.Stream(), cfg)
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			break
		}
		h.svc.logger.Info("waiting for stream", "handler", h.name, "stream", h.topic.Stream())
		select {
		case <-ctx.Done():
			return fmt.Errorf("consumer %s: stream %s never appeared: %w", h.consumerName(), h.topic.Stream(), ctx.Err())
		case <-time.After(wait):
		}
	}
	if err != nil {
		return fmt.Errorf("consumer %s on stream %s: %w", h.consumerName(), h.topic.Stream(), err)
	}
	h.consumer = cons
	batch := min(2*h.opts.concurrency, h.opts.maxAckPending)
	cc, err := cons.Consume(h.dispatch,
		jetstream.PullMaxMessages(max(batch, 1)),
		jetstream.PullExpiry(pullExpiry(h.opts.ackWait)),
		jetstream.ConsumeErrHandler(h.consumeError))
	if err != nil {
		return fmt.Errorf("consume %s: %w", h.consumerName(), err)
	}
	h.consuming.Store(&cc)
	h.hbErrors.Store(0)
	return nil
}

// pullExpiry is how long one pull request stays open: half the AckWait,
// between 1s and nats.go's default 30s. The server goes on filling an open
// pull of an instance it cannot see is lost (a partition), and each message
// it hands that pull waits AckWait before it goes to another instance; a
// pull that expires sooner bounds what a lost instance takes.
func pullExpiry(ackWait time.Duration) time.Duration {
	return min(max(ackWait/2, time.Second), jetstream.DefaultExpires)
}

// consumeError logs Consume's errors and rebinds after repeated missed
// heartbeats or a deleted consumer, which Consume never recovers from alone.
func (h *eventHandler) consumeError(_ jetstream.ConsumeContext, err error) {
	h.svc.logger.Warn("consume error", "handler", h.name, "error", err)
	rebind := errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound)
	if errors.Is(err, jetstream.ErrNoHeartbeat) && h.hbErrors.Add(1) >= 3 {
		rebind = true
	}
	if !rebind || h.svc.baseCtx.Err() != nil || !h.rebinding.CompareAndSwap(false, true) {
		return
	}
	h.hbErrors.Store(0)
	h.svc.background.Add(1)
	go func() {
		defer h.svc.background.Done()
		defer h.rebinding.Store(false)
		h.rebind()
	}()
}

// rebind stops consuming and binds again, retrying with backoff until it
// is bound or the service stops: the server may stay out of reach (a
// partition) for longer than any one attempt.
func (h *eventHandler) rebind() {
	if cc := h.consuming.Swap(nil); cc != nil {
		(*cc).Stop()
	}
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		ctx, cancel := context.WithTimeout(h.svc.baseCtx, rebindAttempt)
		err := h.bind(ctx)
		cancel()
		if err == nil {
			h.svc.logger.Info("consumer bound again", "handler", h.name)
			return
		}
		if h.svc.baseCtx.Err() != nil {
			return
		}
		h.svc.logger.Warn("rebind consumer failed; retrying", "handler", h.name, "error", err, "retry_in", wait)
		select {
		case <-h.svc.baseCtx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// rebindAttempt bounds one attempt of rebind.
const rebindAttempt = 5 * time.Second

// bound reports whether the handler's Consume loop is running.
func (h *eventHandler) bound() bool {
	cc := h.consuming.Load()
	if cc == nil {
		return false
	}
	select {
	case <-(*cc).Closed():
		return false
	default:
		return true
	}
}

// stop stops fetching; messages already fetched are still handled.
func (h *eventHandler) stop() {
	if cc := h.consuming.Load(); cc != nil {
		(*cc).Drain()
		<-(*cc).Closed()
	}
}

// dispatch runs on Consume's goroutine: it hands each message to a bounded
// pool, blocking when the pool is full.
func (h *eventHandler) dispatch(msg jetstream.Msg) {
	h.pool.run(func() { h.process(msg) })
}

func (h *eventHandler) process(msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		_ = msg.TermWithReason("not a JetStream message")
		return
	}
	h.stats.delivered.Add(1)
	if md.NumDelivered > 1 {
		h.stats.redelivered.Add(1)
		h.metrics.redelivery()
	}
	if rf := msg.Headers().Get(HeaderReplayFor); rf != "" && rf != h.consumerName() {
		h.stats.skipped.Add(1)
		_ = msg.Ack()
		return
	}
	inv := h.svc.newInvocation(h)
	m := inv.msg
	*m = Message{
		Kind:      KindEvent,
		Service:   h.svc.cfg.Name,
		Handler:   h.name,
		Subject:   msg.Subject(),
		Header:    msg.Headers(),
		Data:      msg.Data(),
		Schema:    h.topic,
		Stream:    md.Stream,
		Sequence:  md.Sequence.Stream,
		Consumer:  md.Consumer,
		Delivered: int(md.NumDelivered),
	}
	h.stats.inFlight.Add(1)
	start := time.Now()
	keepAlive := h.keepAlive(msg)
	_, err = h.h.Handle(inv, m)
	keepAlive.Stop()
	h.stats.processing.Add(int64(time.Since(start)))
	h.settle(msg, inv, err)
	h.stats.inFlight.Add(-1)
}

// keepAlive tells the server the message is in progress every half AckWait,
// so a long handler is not redelivered to another instance.
func (h *eventHandler) keepAlive(msg jetstream.Msg) *time.Timer {
	every := h.opts.ackWait / 2
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
func (h *eventHandler) settle(msg jetstream.Msg, inv *invocation, err error) {
	m := inv.msg
	if err == nil {
		h.stats.acked.Add(1)
		h.metrics.settle(settleAck)
		_ = msg.Ack()
		return
	}
	reason := err.Error()
	h.stats.lastError.Store(&reason)
	final := IsPermanent(err)
	if !final && h.opts.maxDeliver > 0 && m.Delivered >= h.opts.maxDeliver {
		final = true
		reason = "max deliveries (" + strconv.Itoa(h.opts.maxDeliver) + ") exhausted: " + reason
	}
	if !final {
		delay, ok := retryDelay(err)
		if !ok {
			delay = h.opts.delayFor(m.Delivered)
		}
		h.stats.naked.Add(1)
		h.metrics.settle(settleNak)
		_ = msg.NakWithDelay(delay)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(h.svc.baseCtx), 5*time.Second)
	defer cancel()
	if inv.span.IsValid() {
		// The dead letter's span is a child of the handler's span.
		ctx = trace.ContextWithSpanContext(ctx, inv.span)
	}
	if dlErr := h.svc.dlq.store(ctx, h, deadLetterOf(msg.Subject(), msg.Headers(), msg.Data(), m, reason)); dlErr != nil {
		// Keep the message rather than lose it: it comes back after the delay.
		h.svc.logger.ErrorContext(ctx, "dead-letter failed; retrying the message", "handler", h.name, "error", dlErr)
		h.stats.naked.Add(1)
		h.metrics.settle(settleNak)
		_ = msg.NakWithDelay(h.opts.delayFor(m.Delivered))
		return
	}
	h.stats.terminated.Add(1)
	h.metrics.settle(settleTerm)
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
func (h *eventHandler) serveInfo(req micro.Request) {
	b, _ := json.Marshal(h.figures())
	_ = req.Respond(b)
}

// refreshPending copies the consumer's pending counts into the stats data,
// which must be read without a network call.
func (h *eventHandler) refreshPending(ctx context.Context) {
	if h.consumer == nil {
		return
	}
	info, err := h.consumer.Info(ctx)
	if err != nil {
		return
	}
	h.stats.numPending.Store(int64(info.NumPending))
	h.stats.ackPending.Store(int64(info.NumAckPending))
}

// Pause stops the current event handler's consumer from delivering until d
// has passed, for every instance: the server's consumer pause. Use it when a
// dependency is down (a circuit breaker opened), together with RetryAfter.
func Pause(ctx context.Context, d time.Duration) error {
	inv := invocationFrom(ctx)
	if inv == nil || inv.ev == nil {
		return fmt.Errorf("runtime.Pause outside an event handler: %w", ErrInternal)
	}
	h := inv.ev
	if _, err := h.svc.js.PauseConsumer(ctx, h.topic.Stream(), h.consumerName(), time.Now().Add(d)); err != nil {
		return fmt.Errorf("pause %s: %w", h.consumerName(), err)
	}
	return nil
}
