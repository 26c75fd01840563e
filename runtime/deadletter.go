package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/natsfn/natsfn/runtime/deadletter"
)

// Headers of a dead letter, added to the original message's headers.
const (
	headerDLQReason     = "Natsfn-Dlq-Reason"
	headerDLQService    = "Natsfn-Dlq-Service"
	headerDLQHandler    = "Natsfn-Dlq-Handler"
	headerDLQConsumer   = "Natsfn-Dlq-Consumer"
	headerDLQSubject    = "Natsfn-Dlq-Subject"
	headerDLQStream     = "Natsfn-Dlq-Stream"
	headerDLQStreamSeq  = "Natsfn-Dlq-Stream-Seq"
	headerDLQDeliveries = "Natsfn-Dlq-Deliveries"
	headerDLQMsgID      = "Natsfn-Dlq-Original-Msg-Id"
	headerDLQPrefix     = "Natsfn-Dlq-"
)

// deadLetters stores, lists and replays one running instance's dead
// letters.
type deadLetters struct {
	run    *serviceRun
	stream jetstream.Stream
	subs   []*nats.Subscription
}

// deadLetterStreamDescription describes the DEADLETTER stream.
const deadLetterStreamDescription = "natsfn dead letters: messages a handler gave up on, and their replays"

// dlqEndpoints are the runtime's own endpoints of a service with event
// handlers, built with Endpoint's machinery; list and replay are their
// cores (nil to describe them).
func dlqEndpoints(list, replay Handler) []*endpoint {
	return []*endpoint{
		{name: "dlq.list", core: list, opts: newEndpointOptions([]EndpointOption{Description("list dead letters")})},
		{name: "dlq.replay", core: replay, opts: newEndpointOptions([]EndpointOption{Description("replay dead letters to their handler")})},
	}
}

// deadLetterSubject is where a handler's dead letters are kept.
func deadLetterSubject(service, handler string) string {
	return "deadletter." + service + "." + handler
}

// deadLetterOf describes a failed delivery of m.
func deadLetterOf(m *Message, data []byte, reason string) deadletter.Entry {
	return deadletter.Entry{
		Service:    m.Service,
		Handler:    m.Handler,
		Consumer:   m.Consumer,
		Subject:    m.Subject,
		Stream:     m.Stream,
		StreamSeq:  m.Sequence,
		Deliveries: m.Delivered,
		Reason:     reason,
		Header:     m.Header,
		Data:       data,
	}
}

// open creates the DEADLETTER stream and listens for the max-deliveries
// advisories of the instance's consumers: a message whose last delivery
// timed out never reaches settle, only the advisory tells of it.
func (d *deadLetters) open(ctx context.Context) error {
	r := d.run
	sc := jetstream.StreamConfig{
		Name:        deadletter.Stream,
		Description: deadLetterStreamDescription,
		Subjects:    []string{"deadletter.>"},
		Storage:     jetstream.FileStorage,
		Replicas:    r.cfg.Replicas,
		Duplicates:  10 * time.Minute,
	}
	retention(&sc, r.cfg.DeadLetterMaxAge, r.cfg.DeadLetterMaxBytes)
	st, err := ensureStream(ctx, r.js, sc)
	if err != nil {
		return fmt.Errorf("stream %s: %w", deadletter.Stream, err)
	}
	d.stream = st
	for _, e := range r.events {
		subj := "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + e.topic.Stream() + "." + e.consumer
		sub, err := r.nc.QueueSubscribe(subj, "natsfn-dlq", d.onMaxDeliveries(e))
		if err != nil {
			return fmt.Errorf("advisory %s: %w", subj, err)
		}
		d.subs = append(d.subs, sub)
	}
	return nil
}

// maxDeliveriesAdvisory is the part of the server's advisory we read.
type maxDeliveriesAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries int    `json:"deliveries"`
}

func (d *deadLetters) onMaxDeliveries(e *eventRun) nats.MsgHandler {
	return func(msg *nats.Msg) {
		r := d.run
		var adv maxDeliveriesAdvisory
		if err := json.Unmarshal(msg.Data, &adv); err != nil {
			r.logger.Warn("bad max-deliveries advisory", "error", err)
			return
		}
		ctx, cancel := context.WithTimeout(r.base, 5*time.Second)
		defer cancel()
		st, err := r.js.Stream(ctx, adv.Stream)
		var raw *jetstream.RawStreamMsg
		if err == nil {
			raw, err = st.GetMsg(ctx, adv.StreamSeq)
		}
		if err != nil {
			r.logger.Error("dead-letter: fetch failed", "stream", adv.Stream, "seq", adv.StreamSeq, "error", err)
			return
		}
		m := &Message{Service: r.svc.cfg.Name, Handler: e.name, Subject: raw.Subject, Header: raw.Header,
			Consumer: adv.Consumer, Stream: adv.Stream, Sequence: adv.StreamSeq, Delivered: adv.Deliveries}
		if r.tracer != nil {
			// No handler span survives an ack timeout: the dead letter joins
			// the trace the message itself carries.
			ctx = propagator.Extract(ctx, headerCarrier(raw.Header))
		}
		reason := "max deliveries (" + strconv.Itoa(adv.Deliveries) + ") exhausted: ack wait expired"
		if err := d.store(ctx, e, deadLetterOf(m, raw.Data, reason), ""); err != nil {
			r.logger.Error("dead-letter failed", "stream", adv.Stream, "seq", adv.StreamSeq, "error", err)
		}
	}
}

// store publishes a dead letter. Its Nats-Msg-Id is derived from the
// original message and consumer (and, for a replay that failed again, the
// replay), so the handler path and the advisory path store it once.
func (d *deadLetters) store(ctx context.Context, e *eventRun, dl deadletter.Entry, idSuffix string) error {
	r := d.run
	hdr := nats.Header{}
	for k, v := range dl.Header {
		hdr[k] = append([]string(nil), v...)
	}
	if id := hdr.Get(nats.MsgIdHdr); id != "" {
		hdr.Set(headerDLQMsgID, id)
	}
	hdr.Set(nats.MsgIdHdr, "dlq:"+dl.Stream+":"+uitoa(dl.StreamSeq)+":"+e.consumer+idSuffix)
	hdr.Set(headerDLQReason, oneLine(dl.Reason))
	hdr.Set(headerDLQService, r.svc.cfg.Name)
	hdr.Set(headerDLQHandler, e.name)
	hdr.Set(headerDLQConsumer, e.consumer)
	hdr.Set(headerDLQSubject, dl.Subject)
	hdr.Set(headerDLQStream, dl.Stream)
	hdr.Set(headerDLQStreamSeq, uitoa(dl.StreamSeq))
	hdr.Set(headerDLQDeliveries, strconv.Itoa(dl.Deliveries))
	msg := &nats.Msg{Subject: deadLetterSubject(r.svc.cfg.Name, e.name), Header: hdr, Data: dl.Data}
	// Its producer span replaces the original's traceparent, so that a
	// replay continues the trace from here.
	var span trace.Span
	if r.spans != nil {
		span = startSend(ctx, r.spans, msg.Subject, hdr.Get(nats.MsgIdHdr), hdr)
		ctx = trace.ContextWithSpan(ctx, span)
	}
	ack, err := r.js.PublishMsg(ctx, msg)
	if err != nil {
		err = fmt.Errorf("dead-letter %s seq %d: %w", dl.Stream, dl.StreamSeq, err)
	}
	if span != nil {
		EndSpan(span, err)
	}
	if err != nil {
		return err
	}
	if !ack.Duplicate {
		e.stats.deadLettered.Add(1)
		e.metrics.deadLetter()
		r.logger.WarnContext(ctx, "dead-lettered", "handler", e.name,
			"stream", dl.Stream, "stream_seq", dl.StreamSeq, "deliveries", dl.Deliveries, "reason", dl.Reason,
			"correlation_id", hdr.Get(HeaderCorrelationID))
	}
	return nil
}

// entryOf decodes a stored dead letter (or a replay of one): the original
// message's identity and headers, as they were before it was dead-lettered.
func entryOf(seq uint64, at time.Time, h nats.Header, data []byte) deadletter.Entry {
	streamSeq, _ := strconv.ParseUint(h.Get(headerDLQStreamSeq), 10, 64)
	n, _ := strconv.Atoi(h.Get(headerDLQDeliveries))
	orig := nats.Header{}
	for k, v := range h {
		if !strings.HasPrefix(k, headerDLQPrefix) && k != nats.MsgIdHdr {
			orig[k] = v
		}
	}
	if id := h.Get(headerDLQMsgID); id != "" {
		orig.Set(nats.MsgIdHdr, id)
	}
	return deadletter.Entry{
		Seq:        seq,
		Service:    h.Get(headerDLQService),
		Handler:    h.Get(headerDLQHandler),
		Consumer:   h.Get(headerDLQConsumer),
		Subject:    h.Get(headerDLQSubject),
		Stream:     h.Get(headerDLQStream),
		StreamSeq:  streamSeq,
		Deliveries: n,
		Reason:     h.Get(headerDLQReason),
		Time:       at,
		Header:     orig,
		Data:       data,
	}
}

// filter matches the instance's dead letters, and not their replays.
func (d *deadLetters) filter() string { return "deadletter." + d.run.svc.cfg.Name + ".*" }

// list answers `<fn>.dlq.list`.
func (d *deadLetters) list(ctx context.Context, req deadletter.ListRequest) (deadletter.ListReply, error) {
	limit := req.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	reply := deadletter.ListReply{Entries: []deadletter.Entry{}}
	cons, err := d.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{d.filter()}})
	if err != nil {
		return reply, Unavailable(err, "dead letters could not be read")
	}
	pending := int(cons.CachedInfo().NumPending)
	for len(reply.Entries) < min(pending, limit) {
		batch, err := cons.Fetch(min(pending, limit)-len(reply.Entries), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return reply, Unavailable(err, "dead letters could not be read")
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			reply.Entries = append(reply.Entries, entryOfMsg(msg))
		}
		// A fetch cut short (a lost pull, the consumer gone) must not pass
		// for a shorter list.
		if err := batch.Error(); err != nil {
			return reply, Unavailable(err, "dead letters could not be read")
		}
		if n == 0 {
			// The fetch waited out its expiry with nothing more: entries
			// counted were removed since (replayed), so what was read is
			// all there is.
			pending = len(reply.Entries)
			break
		}
	}
	reply.Count = pending
	return reply, nil
}

// entryOfMsg decodes a dead letter a consumer fetched.
func entryOfMsg(msg jetstream.Msg) deadletter.Entry {
	var seq uint64
	var at time.Time
	if md, err := msg.Metadata(); err == nil {
		seq, at = md.Sequence.Stream, md.Timestamp
	}
	return entryOf(seq, at, msg.Headers(), msg.Data())
}

func (d *deadLetters) close() {
	for _, s := range d.subs {
		_ = s.Unsubscribe()
	}
}
