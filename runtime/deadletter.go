package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"
)

// DeadLetterStream stores every dead letter, on "deadletter.<service>.<handler>".
const DeadLetterStream = "DEADLETTER"

// Headers of a dead letter, added to the original message's headers.
const (
	HeaderDLQReason     = "Natsfn-Dlq-Reason"
	HeaderDLQService    = "Natsfn-Dlq-Service"
	HeaderDLQHandler    = "Natsfn-Dlq-Handler"
	HeaderDLQConsumer   = "Natsfn-Dlq-Consumer"
	HeaderDLQSubject    = "Natsfn-Dlq-Subject"
	HeaderDLQStream     = "Natsfn-Dlq-Stream"
	HeaderDLQStreamSeq  = "Natsfn-Dlq-Stream-Seq"
	HeaderDLQDeliveries = "Natsfn-Dlq-Deliveries"
	HeaderDLQMsgID      = "Natsfn-Dlq-Original-Msg-Id"
)

// DeadLetter is one message a handler gave up on, as `<fn>.dlq.list` shows it.
type DeadLetter struct {
	// Seq is the entry's sequence in the DEADLETTER stream; replay takes it.
	Seq        uint64              `json:"seq"`
	Service    string              `json:"service"`
	Handler    string              `json:"handler"`
	Consumer   string              `json:"consumer"`
	Subject    string              `json:"subject"`
	Stream     string              `json:"stream"`
	StreamSeq  uint64              `json:"stream_seq"`
	Deliveries int                 `json:"deliveries"`
	Reason     string              `json:"reason"`
	Time       time.Time           `json:"time"`
	Header     map[string][]string `json:"headers,omitempty"`
	Data       json.RawMessage     `json:"data"`
}

// deadLetters stores and replays one service's dead letters.
type deadLetters struct {
	svc    *Service
	stream jetstream.Stream
	subs   []*nats.Subscription
}

func deadLetterSubject(service, handler string) string {
	return "deadletter." + service + "." + handler
}

// deadLetterOf describes a failed delivery.
func deadLetterOf(subject string, hdr nats.Header, data []byte, m *Message, reason string) DeadLetter {
	return DeadLetter{
		Service:    m.Service,
		Handler:    m.Handler,
		Consumer:   m.Consumer,
		Subject:    subject,
		Stream:     m.Stream,
		StreamSeq:  m.Sequence,
		Deliveries: m.Delivered,
		Reason:     reason,
		Header:     hdr,
		Data:       data,
	}
}

// openDeadLetters creates the DEADLETTER stream and listens for the
// max-deliveries advisories of the service's consumers: a message whose last
// delivery timed out never reaches settle, only the advisory tells of it.
func openDeadLetters(ctx context.Context, svc *Service, replicas int) (*deadLetters, error) {
	st, err := svc.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        DeadLetterStream,
		Description: "natsfn dead letters: messages a handler gave up on",
		Subjects:    []string{"deadletter.>"},
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
		Duplicates:  10 * time.Minute,
	})
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", DeadLetterStream, err)
	}
	d := &deadLetters{svc: svc, stream: st}
	for _, h := range svc.events {
		subj := "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + h.topic.Stream() + "." + h.consumerName()
		sub, err := svc.nc.QueueSubscribe(subj, "natsfn-dlq", d.onMaxDeliveries(h))
		if err != nil {
			return nil, fmt.Errorf("advisory %s: %w", subj, err)
		}
		d.subs = append(d.subs, sub)
	}
	return d, nil
}

// maxDeliveriesAdvisory is the part of the server's advisory we read.
type maxDeliveriesAdvisory struct {
	Stream     string `json:"stream"`
	Consumer   string `json:"consumer"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries int    `json:"deliveries"`
}

func (d *deadLetters) onMaxDeliveries(h *eventHandler) nats.MsgHandler {
	return func(msg *nats.Msg) {
		var adv maxDeliveriesAdvisory
		if err := json.Unmarshal(msg.Data, &adv); err != nil {
			d.svc.logger.Warn("bad max-deliveries advisory", "error", err)
			return
		}
		ctx, cancel := context.WithTimeout(d.svc.baseCtx, 5*time.Second)
		defer cancel()
		st, err := d.svc.js.Stream(ctx, adv.Stream)
		var raw *jetstream.RawStreamMsg
		if err == nil {
			raw, err = st.GetMsg(ctx, adv.StreamSeq)
		}
		if err != nil {
			d.svc.logger.Error("dead-letter: fetch failed", "stream", adv.Stream, "seq", adv.StreamSeq, "error", err)
			return
		}
		m := &Message{Service: d.svc.cfg.Name, Handler: h.name, Consumer: adv.Consumer, Stream: adv.Stream, Sequence: adv.StreamSeq, Delivered: adv.Deliveries}
		if d.svc.tracer != nil {
			// No handler span survives an ack timeout: the dead letter joins
			// the trace the message itself carries.
			ctx = propagator.Extract(ctx, HeaderCarrier(raw.Header))
		}
		reason := "max deliveries (" + strconv.Itoa(adv.Deliveries) + ") exhausted: ack wait expired"
		if err := d.store(ctx, h, deadLetterOf(raw.Subject, raw.Header, raw.Data, m, reason)); err != nil {
			d.svc.logger.Error("dead-letter failed", "stream", adv.Stream, "seq", adv.StreamSeq, "error", err)
		}
	}
}

// store publishes a dead letter. Its Nats-Msg-Id is derived from the stream
// sequence, so the handler path and the advisory path store it once.
func (d *deadLetters) store(ctx context.Context, h *eventHandler, dl DeadLetter) error {
	hdr := nats.Header{}
	for k, v := range dl.Header {
		hdr[k] = append([]string(nil), v...)
	}
	if id := hdr.Get(nats.MsgIdHdr); id != "" {
		hdr.Set(HeaderDLQMsgID, id)
	}
	hdr.Set(nats.MsgIdHdr, "dlq:"+dl.Stream+":"+uitoa(dl.StreamSeq)+":"+h.consumerName())
	hdr.Set(HeaderDLQReason, oneLine(dl.Reason))
	hdr.Set(HeaderDLQService, d.svc.cfg.Name)
	hdr.Set(HeaderDLQHandler, h.name)
	hdr.Set(HeaderDLQConsumer, h.consumerName())
	hdr.Set(HeaderDLQSubject, dl.Subject)
	hdr.Set(HeaderDLQStream, dl.Stream)
	hdr.Set(HeaderDLQStreamSeq, uitoa(dl.StreamSeq))
	hdr.Set(HeaderDLQDeliveries, strconv.Itoa(dl.Deliveries))
	msg := &nats.Msg{Subject: deadLetterSubject(d.svc.cfg.Name, h.name), Header: hdr, Data: dl.Data}
	// Its producer span replaces the original's traceparent, so that a
	// replay continues the trace from here.
	var span trace.Span
	if d.svc.tracer != nil {
		span = startSend(ctx, d.svc.tracer, msg.Subject, hdr.Get(nats.MsgIdHdr), hdr)
		ctx = trace.ContextWithSpan(ctx, span)
	}
	ack, err := d.svc.js.PublishMsg(ctx, msg)
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
		h.stats.deadLettered.Add(1)
		h.metrics.deadLetter()
		d.svc.logger.WarnContext(ctx, "dead-lettered", "handler", h.name,
			"stream", dl.Stream, "stream_seq", dl.StreamSeq, "deliveries", dl.Deliveries, "reason", dl.Reason,
			"correlation_id", hdr.Get(HeaderCorrelationID))
	}
	return nil
}

// fromRaw decodes a stored dead letter.
func fromRaw(raw *jetstream.RawStreamMsg) DeadLetter {
	h := raw.Header
	seq, _ := strconv.ParseUint(h.Get(HeaderDLQStreamSeq), 10, 64)
	n, _ := strconv.Atoi(h.Get(HeaderDLQDeliveries))
	orig := nats.Header{}
	for k, v := range h {
		if !strings.HasPrefix(k, "Natsfn-Dlq-") && k != nats.MsgIdHdr {
			orig[k] = v
		}
	}
	if id := h.Get(HeaderDLQMsgID); id != "" {
		orig.Set(nats.MsgIdHdr, id)
	}
	return DeadLetter{
		Seq:        raw.Sequence,
		Service:    h.Get(HeaderDLQService),
		Handler:    h.Get(HeaderDLQHandler),
		Consumer:   h.Get(HeaderDLQConsumer),
		Subject:    h.Get(HeaderDLQSubject),
		Stream:     h.Get(HeaderDLQStream),
		StreamSeq:  seq,
		Deliveries: n,
		Reason:     h.Get(HeaderDLQReason),
		Time:       raw.Time,
		Header:     orig,
		Data:       raw.Data,
	}
}

// DLQListRequest asks `<fn>.dlq.list` for at most Limit entries (default 100).
type DLQListRequest struct {
	Limit int `json:"limit,omitempty"`
}

// DLQListReply lists a function's dead letters, oldest first.
type DLQListReply struct {
	Count   int          `json:"count"`
	Entries []DeadLetter `json:"entries"`
}

// DLQReplayRequest asks `<fn>.dlq.replay` to replay one entry (Seq) or all.
type DLQReplayRequest struct {
	Seq uint64 `json:"seq,omitempty"`
	All bool   `json:"all,omitempty"`
}

// DLQReplayReply lists the DEADLETTER sequences replayed.
type DLQReplayReply struct {
	Replayed []uint64 `json:"replayed"`
}

func (d *deadLetters) filter() string { return "deadletter." + d.svc.cfg.Name + ".>" }

func (d *deadLetters) list(ctx context.Context, req DLQListRequest) (DLQListReply, error) {
	limit := req.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	reply := DLQListReply{Entries: []DeadLetter{}}
	cons, err := d.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{d.filter()}})
	if err != nil {
		return reply, fmt.Errorf("list dead letters: %v: %w", err, ErrUnavailable)
	}
	pending := int(cons.CachedInfo().NumPending)
	for len(reply.Entries) < min(pending, limit) {
		batch, err := cons.Fetch(min(pending, limit)-len(reply.Entries), jetstream.FetchMaxWait(2*time.Second))
		if err != nil {
			return reply, fmt.Errorf("list dead letters: %v: %w", err, ErrUnavailable)
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			md, _ := msg.Metadata()
			raw := &jetstream.RawStreamMsg{Subject: msg.Subject(), Header: msg.Headers(), Data: msg.Data()}
			if md != nil {
				raw.Sequence, raw.Time = md.Sequence.Stream, md.Timestamp
			}
			reply.Entries = append(reply.Entries, fromRaw(raw))
		}
		if n == 0 {
			break
		}
	}
	reply.Count = pending
	return reply, nil
}

func (d *deadLetters) replay(ctx context.Context, req DLQReplayRequest) (DLQReplayReply, error) {
	reply := DLQReplayReply{Replayed: []uint64{}}
	var seqs []uint64
	switch {
	case req.All:
		l, err := d.list(ctx, DLQListRequest{Limit: 1000})
		if err != nil {
			return reply, err
		}
		for _, e := range l.Entries {
			seqs = append(seqs, e.Seq)
		}
	case req.Seq > 0:
		seqs = []uint64{req.Seq}
	default:
		return reply, fmt.Errorf(`give {"seq":N} or {"all":true}: %w`, ErrInvalid)
	}
	for _, seq := range seqs {
		if err := d.replayOne(ctx, seq); err != nil {
			return reply, err
		}
		reply.Replayed = append(reply.Replayed, seq)
	}
	return reply, nil
}

// replayOne republishes a dead letter to its original subject for its one
// consumer, then removes it from the DEADLETTER stream.
func (d *deadLetters) replayOne(ctx context.Context, seq uint64) error {
	raw, err := d.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) || (err == nil && !strings.HasPrefix(raw.Subject, "deadletter."+d.svc.cfg.Name+".")) {
		return fmt.Errorf("dead letter %d of %s: %w", seq, d.svc.cfg.Name, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("dead letter %d: %v: %w", seq, err, ErrUnavailable)
	}
	dl := fromRaw(raw)
	hdr := nats.Header(dl.Header)
	hdr.Set(nats.MsgIdHdr, hdr.Get(nats.MsgIdHdr)+":replay:"+uitoa(seq))
	hdr.Set(HeaderReplayFor, dl.Consumer)
	if _, err := d.svc.js.PublishMsg(ctx, &nats.Msg{Subject: dl.Subject, Header: hdr, Data: dl.Data}); err != nil {
		return fmt.Errorf("replay %d to %s: %v: %w", seq, dl.Subject, err, ErrUnavailable)
	}
	if err := d.stream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return fmt.Errorf("replayed %d but could not remove it: %v: %w", seq, err, ErrUnavailable)
	}
	return nil
}

// declareEndpoints adds `<fn>.dlq.list` and `<fn>.dlq.replay`.
func (d *deadLetters) declareEndpoints(svc *Service) {
	Endpoint(svc, "dlq.list", d.list, Concurrency(1), Description("list dead letters"))
	Endpoint(svc, "dlq.replay", d.replay, Concurrency(1), Description("replay dead letters"))
}

func (d *deadLetters) close() {
	for _, s := range d.subs {
		_ = s.Unsubscribe()
	}
}
