package kv

import (
	"context"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/natsfn/natsfn/runtime/internal/retry"
)

// write stores one change, conditioned on its key's revision, as one
// logical write: one Nats-Msg-Id for all its attempts. It retries
// transient failures until ctx ends or the duplicate window would, and
// returns the new revision, or ErrConflict when the key was not at c.at.
//
// An attempt whose answer was lost (a time-out, a connection dropped) may
// have landed, and its retry must neither apply it twice nor report it as
// a lost race. Which check the server makes first differs:
//
//   - a replicated stream checks the duplicate window first: the retry of a
//     landed write is answered "duplicate" with the original sequence;
//   - a single-replica stream (nats-server 2.15's processJetStreamMsg,
//     where R1 streams have no raft node) checks the expected revision
//     first: the retry fails "wrong last sequence", exactly like a write
//     another writer beat (TestServerChecksOrder shows both);
//   - an atomic batch checks the duplicate window first on both
//     (checkMsgHeadersPreClusteredProposal): a landed id fails the batch
//     with 10201.
//
// So after an unknown outcome every retry is sent as a one-message atomic
// batch: 10201 means it landed, "wrong last sequence" that it did not and
// another writer came first, success that it lands now. A batch costs more
// than a plain publish (on an R1 file bucket the server creates and fsyncs
// a staging store for it: 7 to 11 ms against 0.15), which is why the first
// attempt is a plain publish.
func (e *engine) write(ctx context.Context, c change) (rev uint64, attempts int, err error) {
	id := nuid.Next()
	ctx, cancel := e.withinWindow(ctx)
	defer cancel()
	unknown := false // an earlier attempt may have landed
	err = e.policy.Do(ctx, func(ctx context.Context) error {
		attempts++
		var err error
		if unknown {
			rev, err = e.settle(ctx, c, id)
		} else {
			rev, err = e.publish(ctx, c, id)
		}
		if retry.Transient(err) && retry.APICode(err) != retry.CodeSubjectInFlight {
			unknown = true // 10164 is a refusal: nothing was written
		}
		return err
	})
	return rev, attempts, err
}

// publish sends the change as a plain conditional publish.
func (e *engine) publish(ctx context.Context, c change, id string) (uint64, error) {
	ack, err := e.js.PublishMsg(ctx, e.message(c, id), jetstream.WithRetryAttempts(0))
	switch {
	case err == nil:
		return ack.Sequence, nil
	case lostRace(err):
		return 0, ErrConflict
	}
	return 0, err
}

// settle sends the change again as a one-message atomic batch, after an
// attempt whose outcome is unknown (see write).
func (e *engine) settle(ctx context.Context, c change, id string) (uint64, error) {
	ack, err := jetstreamext.PublishMsgBatch(ctx, e.js, []*nats.Msg{e.message(c, id)})
	switch {
	case err == nil:
		return ack.Sequence, nil
	case retry.APICode(err) == codeBatchDuplicate:
		return e.landedAt(ctx, c.key, id)
	case lostRace(err):
		return 0, ErrConflict
	}
	return 0, err
}

// landedAt returns the revision the write id stored under key, or 0 when
// another write has replaced it since (with history 1 the server keeps no
// trace of it but the duplicate window, which does not say where).
func (e *engine) landedAt(ctx context.Context, key, id string) (uint64, error) {
	r, err := e.fresh(ctx, key)
	if err != nil {
		return 0, err
	}
	if r.id == id {
		return r.rev, nil
	}
	return 0, nil
}

// commit stores changes of several keys as one atomic batch: all land, or
// none. Every message is conditioned on its key's revision and carries the
// commit's id and its index, so a retry after a lost answer is recognised
// as the commit that landed (10201; see write). It returns the last
// message's revision (0 when an earlier attempt landed), or ErrConflict.
//
// The batch is published with orbit.go's jetstreamext.PublishMsgBatch,
// without waiting for an ack of the first message: a commit is small, and
// the ack would cost a round trip for nothing the commit does not report.
func (e *engine) commit(ctx context.Context, cs []change) (rev uint64, attempts int, err error) {
	id := nuid.Next()
	ctx, cancel := e.withinWindow(ctx)
	defer cancel()
	unknown := false
	err = e.policy.Do(ctx, func(ctx context.Context) error {
		attempts++
		msgs := make([]*nats.Msg, len(cs))
		for i, c := range cs {
			msgs[i] = e.message(c, id+"."+strconv.Itoa(i))
		}
		ack, err := jetstreamext.PublishMsgBatch(ctx, e.js, msgs, jetstreamext.BatchFlowControl{AckFirst: false})
		switch {
		case err == nil:
			rev = ack.Sequence
			return nil
		case unknown && retry.APICode(err) == codeBatchDuplicate:
			rev = 0
			return nil
		case lostRace(err):
			return ErrConflict
		}
		if retry.Transient(err) {
			unknown = true
		}
		return err
	})
	return rev, attempts, err
}
