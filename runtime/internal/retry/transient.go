package retry

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStream error codes that pass by themselves although their HTTP-like
// code is below 500; nats.go names no constant for them.
const (
	// codeNoPeers is "no suitable peers for placement" (400): on a cluster
	// whose nodes are still meeting, it passes in seconds.
	codeNoPeers jetstream.ErrorCode = 10005
	// codeMsgIDInProcess is "duplicate message id is in process" (409): the
	// earlier attempt of the same write is proposed but not applied yet.
	codeMsgIDInProcess jetstream.ErrorCode = 10158
	// codeBatchIncomplete is "atomic publish batch is incomplete" (400): a
	// message of the batch was lost (a reconnect) or the batch timed out.
	// Nothing of it was stored, and a new batch may succeed.
	codeBatchIncomplete jetstream.ErrorCode = 10176
	// CodeSubjectInFlight is the "wrong last sequence" (400) a replicated
	// stream gives a write with an expected subject sequence while another
	// write of the subject is proposed and not applied yet. It is not a
	// lost race: the leader acknowledges a write before it clears that
	// state, so even a writer alone gets it, now and then, for its next
	// write of a key (nats-server v2.15.2 and v2.15.3, applyStreamMsgOp; kv's
	// TestAWriterAloneNeverConflicts). Nothing was written, and trying
	// again gets a real answer.
	CodeSubjectInFlight = jetstream.JSErrCodeStreamWrongLastSequenceConstant // 10164
	// CodeBatchDuplicate is "atomic publish batch contains duplicate
	// message id" (10201): a message of the batch has a Nats-Msg-Id the
	// stream already stored, i.e. an earlier attempt of the same batch
	// landed (neither the emitter nor the kv engine repeats an id within
	// one batch).
	CodeBatchDuplicate jetstream.ErrorCode = 10201
)

// APICode returns the JetStream error code err carries, or 0.
func APICode(err error) jetstream.ErrorCode {
	var api *jetstream.APIError
	if errors.As(err, &api) {
		return api.ErrorCode
	}
	return 0
}

// Transient reports whether a NATS or JetStream call that failed with err
// may succeed if made again: a time-out (an async publish's too), nobody answering (a stream with no
// leader during an election), a connection being re-established, a 5xx or
// 429 from the JetStream API, or one of the codes above. A cancelled
// context, a closed connection, a permission violation, a lost
// compare-and-swap (10071) or a bad request are not.
func Transient(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, jetstream.ErrAsyncPublishTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		errors.Is(err, nats.ErrConnectionReconnecting) || errors.Is(err, nats.ErrDisconnected) {
		return true
	}
	var api *jetstream.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode {
	case codeNoPeers, codeMsgIDInProcess, codeBatchIncomplete, CodeSubjectInFlight:
		return true
	}
	return api.Code >= 500 || api.Code == 429
}
