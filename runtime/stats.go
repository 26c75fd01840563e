package runtime

import (
	"cmp"
	"context"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"
)

// endpointStats are the runtime's own figures for an endpoint. With a worker
// pool micro counts requests at dispatch only, so these are the honest ones.
type endpointStats struct {
	requests   atomic.Int64
	errors     atomic.Int64
	inFlight   atomic.Int64
	processing atomic.Int64
	// shed counts requests refused with a 503 because the queue was full.
	shed      atomic.Int64
	lastError atomic.Pointer[string]
}

func (s *endpointStats) record(d time.Duration, err error) {
	s.requests.Add(1)
	s.processing.Add(int64(d))
	if err != nil {
		s.errors.Add(1)
		msg := err.Error()
		s.lastError.Store(&msg)
	}
}

// endpointFigures is the stats data of an endpoint in `nats micro stats`.
type endpointFigures struct {
	Kind           string `json:"kind"`
	Requests       int64  `json:"requests"`
	Errors         int64  `json:"errors"`
	LastError      string `json:"last_error,omitempty"`
	InFlight       int64  `json:"in_flight"`
	Queued         int64  `json:"queued"`
	Shed           int64  `json:"shed"`
	ProcessingTime int64  `json:"processing_time_ns"`
}

func (e *endpointRun) figures() endpointFigures {
	s := &e.stats
	f := endpointFigures{
		Kind:           "endpoint",
		Requests:       s.requests.Load(),
		Errors:         s.errors.Load(),
		InFlight:       s.inFlight.Load(),
		Queued:         int64(e.queue.queued()),
		Shed:           s.shed.Load(),
		ProcessingTime: s.processing.Load(),
	}
	if p := s.lastError.Load(); p != nil {
		f.LastError = *p
	}
	return f
}

// eventStats count one event handler's deliveries and outcomes.
type eventStats struct {
	delivered    atomic.Int64
	redelivered  atomic.Int64
	acked        atomic.Int64
	naked        atomic.Int64
	terminated   atomic.Int64
	deadLettered atomic.Int64
	processing   atomic.Int64
	inFlight     atomic.Int64
	twins        atomic.Int64
	pendingFigures
	lastError atomic.Pointer[string]
}

// pendingFigures are a handler's consumer counts as this instance last saw
// them. numPending comes with every delivery (its metadata carries the
// consumer's pending count); ackPending only from CONSUMER.INFO, which
// pollPending asks for while the handler is idle.
type pendingFigures struct {
	numPending atomic.Int64
	ackPending atomic.Int64
	// deliveries counts what the consumer delivered here, so the poller
	// knows the handler is busy and its numPending fresh.
	deliveries atomic.Int64
}

// observe takes the pending count from a delivery. Consume calls it on its
// own goroutine, one message after the other, so the last one wins.
func (p *pendingFigures) observe(msg jetstream.Msg) {
	p.deliveries.Add(1)
	if md, err := msg.Metadata(); err == nil {
		p.numPending.Store(int64(md.NumPending))
	}
}

// fromInfo takes both counts from a consumer's info.
func (p *pendingFigures) fromInfo(info *jetstream.ConsumerInfo) {
	if info != nil {
		p.numPending.Store(int64(info.NumPending))
		p.ackPending.Store(int64(info.NumAckPending))
	}
}

// pendingPollEvery is the mean interval between two CONSUMER.INFO requests
// for a handler that receives nothing; each interval is drawn from half to
// one and a half of it, so that instances started together do not poll
// together. With a 1s interval for every handler, a compose stack of 2
// instances × 10 handlers sent 20 requests/s at idle (infra/README.md).
const pendingPollEvery = 10 * time.Second

// pollPending keeps the handlers' pending counts fresh until the instance
// stops. A busy handler's deliveries carry numPending, so it is not polled;
// one that received nothing for an interval is, which also refreshes
// ackPending and notices a backlog held back by a pause, a pin or a
// min-pending threshold. A consumer seen paused is looked at every
// pausedRefresh until it resumes.
func (r *serviceRun) pollPending() {
	defer r.background.Done()
	type schedule struct {
		seen int64
		next time.Time
	}
	every := cmp.Or(r.cfg.pollEvery, pendingPollEvery)
	next := func(now time.Time) time.Time { return now.Add(every/2 + rand.N(every)) }
	now := time.Now()
	plan := make([]schedule, len(r.events))
	for i := range plan {
		plan[i].next = next(now)
	}
	tick := time.NewTicker(min(pausedRefresh, every/4))
	defer tick.Stop()
	for {
		select {
		case <-r.life.Done():
			return
		case now = <-tick.C:
		}
		for i, e := range r.events {
			p := &plan[i]
			if e.wasPaused.Load() {
				ctx, cancel := context.WithTimeout(r.life, 2*time.Second)
				e.refreshPending(ctx)
				cancel()
				continue
			}
			if n := e.stats.deliveries.Load(); n != p.seen {
				p.seen, p.next = n, next(now)
				continue
			}
			if now.Before(p.next) {
				continue
			}
			ctx, cancel := context.WithTimeout(r.life, 2*time.Second)
			e.refreshPending(ctx)
			cancel()
			p.next = next(now)
		}
	}
}

// EventFigures is the stats data of an event handler in `nats micro stats`.
type EventFigures struct {
	Kind         string `json:"kind"`
	Stream       string `json:"stream"`
	Consumer     string `json:"consumer"`
	Subject      string `json:"subject"`
	Delivered    int64  `json:"delivered"`
	Redelivered  int64  `json:"redelivered"`
	Acked        int64  `json:"acked"`
	Naked        int64  `json:"naked"`
	Terminated   int64  `json:"terminated"`
	DeadLettered int64  `json:"dead_lettered"`
	// Twins counts the copies of dual-published events acked unhandled:
	// the handler handled the copy of its own major.
	Twins          int64  `json:"twins,omitempty"`
	InFlight       int64  `json:"in_flight"`
	Pending        int64  `json:"pending"`
	AckPending     int64  `json:"ack_pending"`
	ProcessingTime int64  `json:"processing_time_ns"`
	LastError      string `json:"last_error,omitempty"`
}

func (e *eventRun) figures() EventFigures {
	s := &e.stats
	f := EventFigures{
		Kind:           "event",
		Stream:         e.topic.Stream(),
		Consumer:       e.consumer,
		Subject:        e.topic.Subject(),
		Delivered:      s.delivered.Load(),
		Redelivered:    s.redelivered.Load(),
		Acked:          s.acked.Load(),
		Naked:          s.naked.Load(),
		Terminated:     s.terminated.Load(),
		DeadLettered:   s.deadLettered.Load(),
		Twins:          s.twins.Load(),
		InFlight:       s.inFlight.Load(),
		Pending:        s.numPending.Load(),
		AckPending:     s.ackPending.Load(),
		ProcessingTime: s.processing.Load(),
	}
	if p := s.lastError.Load(); p != nil {
		f.LastError = *p
	}
	return f
}

// statsHandler maps micro endpoint names to their figures. The map is built
// before the micro service starts and never changes, because micro calls the
// StatsHandler with its service mutex held: it must only read atomics.
func (r *serviceRun) statsHandler() micro.StatsHandler {
	by := map[string]func() any{}
	for _, e := range r.endpoints {
		by[e.microName()] = func() any { return e.figures() }
	}
	for _, e := range r.events {
		by[e.name] = func() any { return e.figures() }
	}
	return func(e *micro.Endpoint) any {
		if f, ok := by[e.Name]; ok {
			return f()
		}
		return nil
	}
}
