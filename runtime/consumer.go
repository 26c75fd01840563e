package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// consumerLoop keeps one durable pull consumer bound and consuming for a
// running instance: an event handler's, or the dead-letter replays'.
type consumerLoop struct {
	run      *serviceRun
	label    string // the handler, in log lines
	stream   string
	cfg      jetstream.ConsumerConfig
	batch    int
	dispatch func(jetstream.Msg)
	// pending receives the pending counts, for an event handler's loop.
	pending *pendingFigures
	// mode is the handler's priority policy or Bind (priority.go); adopt
	// takes a bound consumer's settings, at the first bind.
	mode    consumerMode
	adopt   func(jetstream.ConsumerConfig)
	adopted atomic.Bool
	// pinned is true while the consumer is a pinned one; pin is the pin
	// this instance got, handed over when it stops.
	pinned atomic.Bool
	pin    pinHolder
	// prepared is the consumer prepare opens ahead, for the first bind.
	prepared atomic.Pointer[chan opened]

	consumer  atomic.Pointer[jetstream.Consumer]
	consuming atomic.Pointer[jetstream.ConsumeContext]
	hbErrors  atomic.Int32
	// gate, while set, holds Consume's callback (hold).
	gate atomic.Pointer[chan struct{}]
	// rebinding is true while rebind runs, so one runs at a time.
	rebinding atomic.Bool
	// rebound is when rebind last bound the consumer (unix ns), and
	// streak how many rebinds in a row came within rebindCalm of the one
	// before: the pause before the next (rebindDelay).
	rebound atomic.Int64
	streak  atomic.Int32
}

// opened is what opening a consumer gave.
type opened struct {
	cons jetstream.Consumer
	err  error
}

// prepare opens the consumer in the background while the instance makes
// its streams and runs its start hooks; the first bind waits for it rather
// than opening it then. Consuming starts only at bind, once the handler
// can run.
//
// On a stream the instance makes itself, the consumer is read while the
// stream is (a read races with nothing), and kept when it is as declared:
// only a create or an update waits for the stream. Reading after the
// stream put two JetStream round trips in a row on every start's path
// (the stream's, then the consumer's: issue 12.7).
func (c *consumerLoop) prepare(ctx context.Context) {
	ch := make(chan opened, 1)
	c.prepared.Store(&ch)
	c.run.background.Add(1)
	go func() {
		defer c.run.background.Done()
		made, own := c.run.streamMade[c.stream]
		if !own {
			cons, err := c.open(ctx)
			ch <- opened{cons, err}
			return
		}
		read := make(chan opened, 1)
		go func() {
			cons, err := c.read(ctx)
			read <- opened{cons, err}
		}()
		select {
		case <-made:
		case <-ctx.Done():
			ch <- opened{nil, ctx.Err()}
			return
		}
		if o := <-read; o.err == nil {
			ch <- o
			return
		}
		cons, err := c.open(ctx)
		ch <- opened{cons, err}
	}()
}

// read returns the consumer when it exists as declared (and, for Bind, can
// serve the handler), without writing anything; an error otherwise.
func (c *consumerLoop) read(ctx context.Context) (jetstream.Consumer, error) {
	if c.mode.bind {
		return c.lookup(ctx)
	}
	return readConsumer(ctx, c.run.js, c.stream, c.mode.configure(c.cfg))
}

// bind (re)creates the consumer, or looks it up for Bind (or takes what
// prepare opened), and starts a Consume loop on it.
func (c *consumerLoop) bind(ctx context.Context) error {
	var o opened
	if ch := c.prepared.Swap(nil); ch != nil {
		select {
		case o = <-*ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	} else {
		o.cons, o.err = c.open(ctx)
	}
	cons, err := o.cons, o.err
	if err != nil {
		return err
	}
	c.consumer.Store(&cons)
	info := cons.CachedInfo()
	if c.pending != nil {
		c.pending.fromInfo(info)
	}
	if c.mode.bind && c.adopt != nil && c.adopted.CompareAndSwap(false, true) {
		c.adopt(info.Config) // before the first delivery, on the starting goroutine
	}
	c.pinned.Store(info.Config.PriorityPolicy == jetstream.PriorityPolicyPinned)
	cc, err := cons.Consume(c.deliver, c.pullOptions(info.Config)...)
	if err != nil {
		return fmt.Errorf("consume %s: %w", c.cfg.Durable, err)
	}
	c.consuming.Store(&cc)
	c.hbErrors.Store(0)
	return nil
}

// open creates or updates the consumer. The stream belongs to the function
// that publishes to it, so open waits for it to appear: functions may start
// in any order.
func (c *consumerLoop) open(ctx context.Context) (jetstream.Consumer, error) {
	if c.mode.bind {
		return c.lookup(ctx)
	}
	cfg := c.mode.configure(c.cfg)
	// An update without PauseUntil leaves a pause in place (the server
	// keeps it; TestPauseSurvivesAnotherInstance checks), so a starting
	// instance does not undo another one's open breaker.
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		cons, err := ensureConsumer(ctx, c.run.js, c.stream, cfg)
		if err == nil {
			return cons, nil
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, fmt.Errorf("consumer %s on stream %s: %w", cfg.Durable, c.stream, err)
		}
		c.run.logger.Info("waiting for stream", "handler", c.label, "stream", c.stream)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("consumer %s: stream %s never appeared: %w", cfg.Durable, c.stream, ctx.Err())
		case <-time.After(wait):
		}
	}
}

// deliver notes the delivery's pending count and hands it on.
func (c *consumerLoop) deliver(msg jetstream.Msg) {
	if g := c.gate.Load(); g != nil {
		<-*g
	}
	if c.pending != nil {
		c.pending.observe(msg)
	}
	if c.pinned.Load() {
		c.pin.note(msg)
	}
	c.dispatch(msg)
}

// pullExpiry is how long one pull request stays open: half the AckWait,
// between 1s and nats.go's default 30s. The server goes on filling an open
// pull of an instance it cannot see is lost (a partition), and each message
// it hands that pull waits AckWait before it goes to another instance; a
// pull that expires sooner bounds what a lost instance takes.
func pullExpiry(ackWait time.Duration) time.Duration {
	return min(max(ackWait/2, time.Second), jetstream.DefaultExpires)
}

// pullHeartbeat is how often the server tells an idle open pull that it is
// still there: half the pull's expiry (nats.go's own default), at most
// maxPullHeartbeat. nats.go counts a pull lost after two heartbeats of
// silence and pulls again, which is how an instance learns that the
// consumer's leader died with its pull (SIGKILL: no 409 to say so): with
// the default AckWait, half of a 15 s expiry took 15 s to notice, and a
// drill's saga stalled that long. A heartbeat is one small message to an
// idle instance, no JetStream API request.
func pullHeartbeat(expiry time.Duration) time.Duration {
	return min(expiry/2, maxPullHeartbeat)
}

const maxPullHeartbeat = 2 * time.Second

// consumeError logs Consume's errors and rebinds after repeated missed
// heartbeats or a deleted consumer, which Consume never recovers from alone,
// and at once after a pull nobody answered (503, no responders: the
// consumer was not, or no longer, serving pulls, e.g. an instance that
// started beside another creating the same consumer, or a consumer
// between leaders). Consume keeps counting such a pull as open and pulls
// again only when two heartbeats are missed: half the AckWait, 15 s by
// default, in which the instance takes nothing (CI saw one instance of
// two take no event of 200 that way).
func (c *consumerLoop) consumeError(_ jetstream.ConsumeContext, err error) {
	c.run.logger.Warn("consume error", "handler", c.label, "error", err)
	rebind := errors.Is(err, jetstream.ErrConsumerDeleted) || errors.Is(err, jetstream.ErrConsumerNotFound) ||
		errors.Is(err, nats.ErrNoResponders)
	if errors.Is(err, jetstream.ErrNoHeartbeat) && c.hbErrors.Add(1) >= 3 {
		rebind = true
	}
	if !rebind || c.run.life.Err() != nil || !c.rebinding.CompareAndSwap(false, true) {
		return
	}
	c.hbErrors.Store(0)
	c.run.background.Add(1)
	go func() {
		defer c.run.background.Done()
		defer c.rebinding.Store(false)
		if d := c.rebindDelay(time.Now()); d > 0 {
			select {
			case <-c.run.life.Done():
				return
			case <-time.After(d):
			}
		}
		c.rebind()
	}()
}

// rebindDelay is the pause before a rebind: none unless the last one bound
// the consumer less than rebindCalm ago, then 50 ms, doubling with every
// rebind in a row, up to 2 s. A consumer whose info answers while its pulls
// get no responders (one just created, or between leaders, whose leader is
// not elected yet) otherwise rebound in a loop: a drill saw one instance
// bind the same consumer 50 times in a second, each a JetStream API call.
func (c *consumerLoop) rebindDelay(now time.Time) time.Duration {
	last := c.rebound.Load()
	if last == 0 || now.Sub(time.Unix(0, last)) >= rebindCalm {
		c.streak.Store(0)
		return 0
	}
	n := min(c.streak.Add(1), 7)
	return min(rebindFirstPause<<(n-1), rebindMaxPause)
}

// The pauses between rebinds in a row (rebindDelay).
const (
	rebindCalm       = 5 * time.Second
	rebindFirstPause = 50 * time.Millisecond
	rebindMaxPause   = 2 * time.Second
)

// rebind stops consuming and binds again, retrying with backoff until it
// is bound or the instance stops: the server may stay out of reach (a
// partition) for longer than any one attempt.
func (c *consumerLoop) rebind() {
	if cc := c.consuming.Swap(nil); cc != nil {
		(*cc).Stop()
	}
	life := c.run.life
	for try, wait := 0, 250*time.Millisecond; ; try, wait = try+1, min(2*wait, 5*time.Second) {
		ctx, cancel := context.WithTimeout(life, rebindAttempt(try))
		err := c.bind(ctx)
		cancel()
		if err == nil {
			c.rebound.Store(time.Now().UnixNano())
			c.run.logger.Info("consumer bound again", "handler", c.label)
			return
		}
		if life.Err() != nil {
			return
		}
		c.run.logger.Warn("rebind consumer failed; retrying", "handler", c.label, "error", err, "retry_in", wait)
		select {
		case <-life.Done():
			return
		case <-time.After(wait):
		}
	}
}

// rebindAttempt bounds attempt try (from 0) of rebind: 1 s, 2 s, 4 s, then
// 5 s. A consumer between leaders does not answer its info at all, and
// nats-server elects its new leader 4-9 s after the old one died: an
// attempt sent before that waits out its bound. With 5 s for every attempt
// a drill's consumers were out 11 s after their leader's SIGKILL (two
// attempts timed out, the third bound), where the leader was back after
// 6.5 s. Later attempts get longer, for a cluster too loaded to answer
// within a second.
func rebindAttempt(try int) time.Duration {
	return min(time.Second<<min(try, 3), 5*time.Second)
}

// bound reports whether the Consume loop is running.
func (c *consumerLoop) bound() bool {
	cc := c.consuming.Load()
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

// hold makes Consume's callback wait at its next message until stop, and
// reports whether the loop consumes. nats.go sends its next pull request
// from that callback, so a held loop sends none: serviceRun.settlePulls
// says why a stop holds its loops first.
func (c *consumerLoop) hold() bool {
	if c.consuming.Load() == nil {
		return false
	}
	gate := make(chan struct{})
	c.gate.Store(&gate)
	return true
}

// stop stops fetching, and hands over the pin of a pinned consumer;
// messages already fetched are still handled.
func (c *consumerLoop) stop() {
	if cc := c.consuming.Load(); cc != nil {
		(*cc).Drain()
		if g := c.gate.Swap(nil); g != nil {
			close(*g)
		}
		<-(*cc).Closed()
	}
	if c.pinned.Load() {
		c.releasePin()
	}
}

// kick makes the server serve this instance's waiting pull requests
// after the consumer was resumed through the API (ResumeConsumer, `nats
// consumer resume`) on a server before v2.15.3. nats-server v2.15.2 resumes
// such a consumer without waking its delivery loop (jsConsumerPauseRequest
// -> updateConfig -> updatePauseState stops the unpause timer, and nothing
// signals; v2.15.3's updateConfig signals, and the kick is then one
// harmless fetch), so
// Consume's pull request, sent during the pause, waits until a new message
// lands in the stream or the request expires: BenchmarkDrainAfterPause
// measured a 20,000-event backlog drain at 6.7k events/s instead of 27k,
// and a bare Consume loop with the defaults stalled 5 to 10 s. A pause
// that ends by itself is not affected: the server's unpause timer does
// signal. A new pull request signals too, so kick fetches one message
// (and hands it to the handler like any other).
func (c *consumerLoop) kick() {
	cons := c.consumer.Load()
	if cons == nil {
		return
	}
	batch, err := (*cons).Fetch(1, jetstream.FetchMaxWait(time.Second))
	if err != nil {
		return
	}
	for msg := range batch.Messages() {
		c.dispatch(msg)
	}
}

// info returns the consumer's info, or nil before it is bound.
func (c *consumerLoop) info(ctx context.Context) *jetstream.ConsumerInfo {
	cons := c.consumer.Load()
	if cons == nil {
		return nil
	}
	info, err := (*cons).Info(ctx)
	if err != nil {
		return nil
	}
	return info
}
