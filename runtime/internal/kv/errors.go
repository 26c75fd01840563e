package kv

import (
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime/internal/retry"
)

// Sentinel errors, tested with errors.Is. The errors returned wrap them with
// the bucket, the key and the revisions involved.
var (
	// ErrConflict means another writer came first: Create found the key,
	// Update or Delete found it at another revision, or a transaction found
	// one of its keys changed since it read it. Nothing was written. Read
	// again and decide again.
	ErrConflict = errors.New("kv: another writer came first")
	// ErrNotFound means the key holds no value: it was never written, or
	// it was deleted, purged or expired.
	ErrNotFound = errors.New("kv: key not found")
	// ErrDecode means a stored value is not a record of the bucket's type.
	// No retry can fix it: the value must be repaired or removed.
	ErrDecode = errors.New("kv: stored value cannot be decoded")
)

// JetStream error codes the engine tells apart.
const (
	codeWrongLastSeq = jetstream.JSErrCodeStreamWrongLastSequence // 10071: the key is at another revision
	// codeBatchDuplicate: an earlier attempt of the same commit landed.
	codeBatchDuplicate = retry.CodeBatchDuplicate
)

// lostRace reports whether err is the server refusing a write because a key
// was not at the expected revision. Its sibling 10164, "another write of
// the key is in flight", is not one (retry.CodeSubjectInFlight).
func lostRace(err error) bool {
	return retry.APICode(err) == codeWrongLastSeq
}

// decodeError describes a value that is not a record of the bucket's type.
func decodeError(bucket, key string, rev uint64, err error) error {
	return fmt.Errorf("kv %s/%s: revision %d is not a valid record: %v: %w", bucket, key, rev, err, ErrDecode)
}
