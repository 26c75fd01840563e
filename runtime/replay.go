package runtime

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime/deadletter"
)

// A replay hands a dead letter back to its handler without publishing on
// anyone's event subject: `<fn>.dlq.replay` moves the entry to
// "deadletter.<svc>.<handler>.replay", in the same stream, and one durable
// consumer per service, "<svc>-replay", runs it through the handler's chain
// with the original message's stream, sequence and consumer, so that its
// emits get the Nats-Msg-Ids the first delivery's did. Until the handler
// succeeds (or gives up and dead-letters it again) the replay stays in the
// stream: a crash mid-replay loses nothing.

// replaySuffix ends the subject a replay waits on.
const replaySuffix = ".replay"

// replayPage bounds `{"all":true}` per request by default, and
// maxReplayPage at most; the reply says how many remain.
const (
	replayPage    = 1000
	maxReplayPage = 10000
	// replayMargin is the time left before the request's deadline under
	// which no replay starts: room for the count of what remains, one
	// stream info, which took over 500ms on a loaded 2-core machine.
	replayMargin = time.Second
)

// replay answers `<fn>.dlq.replay`.
func (d *deadLetters) replay(ctx context.Context, req deadletter.ReplayRequest) (deadletter.ReplayReply, error) {
	reply := deadletter.ReplayReply{Replayed: []uint64{}}
	var err error
	switch {
	case req.All:
		reply.Replayed, err = d.replayAll(ctx, req.Limit)
	case req.Seq > 0:
		err = d.replayOne(ctx, req.Seq)
		if err == nil {
			reply.Replayed = append(reply.Replayed, req.Seq)
		}
	default:
		return reply, Errorf(ErrInvalid, `give {"seq":N} or {"all":true}`)
	}
	if err != nil {
		return reply, err
	}
	reply.Remaining, err = d.count(ctx)
	return reply, err
}

// replayAll replays the oldest dead letters, at most limit of them, and
// none once the request is about to run out of time.
func (d *deadLetters) replayAll(ctx context.Context, limit int) ([]uint64, error) {
	if limit <= 0 {
		limit = replayPage
	}
	limit = min(limit, maxReplayPage)
	cons, err := d.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{d.filter()}})
	if err != nil {
		return nil, Unavailable(err, "dead letters could not be read")
	}
	done := []uint64{}
	for len(done) < limit && !nearDeadline(ctx) {
		batch, err := cons.Fetch(min(100, limit-len(done)), jetstream.FetchMaxWait(time.Second))
		if err != nil {
			return done, Unavailable(err, "dead letters could not be read")
		}
		n := 0
		for msg := range batch.Messages() {
			n++
			if nearDeadline(ctx) {
				break
			}
			md, err := msg.Metadata()
			if err != nil {
				return done, fmt.Errorf("dead letter without metadata: %v: %w", err, ErrInternal)
			}
			if err := d.moveToReplay(ctx, md.Sequence.Stream, msg.Subject(), msg.Headers(), msg.Data()); err != nil {
				return done, err
			}
			done = append(done, md.Sequence.Stream)
		}
		if n == 0 {
			break
		}
	}
	return done, nil
}

// nearDeadline reports whether ctx ends too soon for another replay.
func nearDeadline(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < replayMargin
}

// replayOne replays the dead letter at seq.
func (d *deadLetters) replayOne(ctx context.Context, seq uint64) error {
	raw, err := d.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) || (err == nil && !d.isDeadLetter(raw.Subject)) {
		return Errorf(ErrNotFound, "dead letter %d of %s", seq, d.run.svc.cfg.Name)
	}
	if err != nil {
		return Unavailable(err, "dead letter %d could not be read", seq)
	}
	return d.moveToReplay(ctx, seq, raw.Subject, raw.Header, raw.Data)
}

// isDeadLetter reports whether subject is "deadletter.<svc>.<handler>".
func (d *deadLetters) isDeadLetter(subject string) bool {
	handler, ok := strings.CutPrefix(subject, "deadletter."+d.run.svc.cfg.Name+".")
	return ok && handler != "" && !strings.Contains(handler, ".")
}

// moveToReplay publishes the dead letter at seq as a replay and removes
// it. A crash in between leaves both; the replay's Nats-Msg-Id makes a
// second replay of the entry a duplicate the stream drops.
func (d *deadLetters) moveToReplay(ctx context.Context, seq uint64, subject string, h nats.Header, data []byte) error {
	hdr := nats.Header{}
	for k, v := range h {
		hdr[k] = v
	}
	hdr.Set(nats.MsgIdHdr, "dlq-replay:"+uitoa(seq))
	if _, err := d.run.js.PublishMsg(ctx, &nats.Msg{Subject: subject + replaySuffix, Header: hdr, Data: data}); err != nil {
		return Unavailable(err, "dead letter %d could not be replayed", seq)
	}
	if err := d.stream.DeleteMsg(ctx, seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		return Unavailable(err, "dead letter %d was replayed and could not be removed", seq)
	}
	return nil
}

// count returns how many dead letters the instance's service has.
func (d *deadLetters) count(ctx context.Context) (int, error) {
	info, err := d.stream.Info(ctx, jetstream.WithSubjectFilter(d.filter()))
	if err != nil {
		return 0, Unavailable(err, "dead letters could not be counted")
	}
	n := 0
	for _, c := range info.State.Subjects {
		n += int(c)
	}
	return n, nil
}

// replayLoop is the instance's consumer of its service's replays.
func (d *deadLetters) replayLoop() *consumerLoop {
	r := d.run
	ackWait := time.Duration(0)
	for _, e := range r.events {
		ackWait = max(ackWait, e.opts.ackWait)
	}
	name := r.svc.cfg.Name + "-replay"
	return &consumerLoop{
		run:    r,
		label:  "dlq replay",
		stream: deadletter.Stream,
		cfg: jetstream.ConsumerConfig{
			Durable:       name,
			Description:   fmt.Sprintf("natsfn %s: dead letters replayed to their handler", r.svc.cfg.Name),
			FilterSubject: "deadletter." + r.svc.cfg.Name + ".*" + replaySuffix,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       ackWait,
			// Each handler's MaxDeliver applies, counted by settle: the
			// consumer itself never gives up, so no advisory is needed.
			MaxDeliver:    -1,
			MaxAckPending: 64,
		},
		batch:    16,
		dispatch: d.dispatchReplay,
	}
}

// dispatchReplay hands a replay to its handler's pool.
func (d *deadLetters) dispatchReplay(msg jetstream.Msg) {
	handler := strings.TrimSuffix(strings.TrimPrefix(msg.Subject(), "deadletter."+d.run.svc.cfg.Name+"."), replaySuffix)
	e := d.run.eventByName[handler]
	if e == nil {
		// An instance of another version (a rolling update) may know it.
		d.run.logger.Error("replay for a handler this instance does not have; retrying later", "handler", handler)
		_ = msg.NakWithDelay(30 * time.Second)
		return
	}
	e.pool.put(delivery{msg: msg, replay: true})
}

// processReplay runs a replay through the handler's chain as the message
// it was.
func (e *eventRun) processReplay(msg jetstream.Msg) {
	md, err := msg.Metadata()
	if err != nil {
		_ = msg.TermWithReason("not a JetStream message")
		return
	}
	dl := entryOf(md.Sequence.Stream, md.Timestamp, msg.Headers(), msg.Data())
	inv := e.run.newInvocation(e, e.plan)
	*inv.msg = Message{
		Kind:      KindEvent,
		Service:   e.run.svc.cfg.Name,
		Handler:   e.name,
		Subject:   dl.Subject,
		Header:    nats.Header(dl.Header),
		Data:      msg.Data(),
		Schema:    e.schemaFor(dl.Subject),
		Stream:    dl.Stream,
		Sequence:  dl.StreamSeq,
		Consumer:  dl.Consumer,
		Delivered: int(md.NumDelivered),
	}
	e.handle(msg, inv, &replayed{seq: md.Sequence.Stream})
}

// replayed is the replay message a delivery came from; nil for a delivery
// of the handler's own consumer.
type replayed struct{ seq uint64 }

// idSuffix keeps the dead letter of a failed replay apart from the one it
// was replayed from, which the DEADLETTER stream's duplicate window may
// still remember.
func (p *replayed) idSuffix() string {
	if p == nil {
		return ""
	}
	return ":replay:" + uitoa(p.seq)
}

// remove deletes the replay once its handler is done with it. A replay
// that could not be removed is never listed nor delivered again once
// acked; it only takes room until the stream's limits drop it.
func (p *replayed) remove(r *serviceRun) {
	if p == nil {
		return
	}
	ctx, cancel := context.WithTimeout(r.base, 5*time.Second)
	defer cancel()
	if err := r.dlq.stream.DeleteMsg(ctx, p.seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
		r.logger.Warn("a handled replay could not be removed", "seq", p.seq, "error", err)
	}
}
