package runtime

import (
	"context"

	"github.com/natsfn/natsfn/runtime/internal/kv"
)

// Tx is a transaction over keys of one Bucket, handed to the function
// Transact runs: it reads keys, remembering the revision of each, and
// stages Puts and Deletes, which Transact stores in one JetStream atomic
// batch, each conditioned on the revision the transaction read. The server
// stores all of them or none; no reader ever sees part of them, and a
// crash at any point leaves all of them or none.
//
// Keys read in one Load are one state of the bucket. A key only read is
// not checked at the commit: to make the commit depend on it, Put it back
// unchanged. A Tx is used by one goroutine, within its Transact.
type Tx[T any] struct {
	bucket string
	tx     *kv.Tx[T]
}

// Load reads keys in one request to the server, so that they are one state
// of the bucket. Get reads a key Load has not.
func (tx *Tx[T]) Load(ctx context.Context, keys ...string) error {
	return bucketError(tx.bucket, "", tx.tx.Load(ctx, keys...))
}

// Get returns key's value in the transaction: what it staged for the key,
// or else what it read. exists is false when the key holds no value.
func (tx *Tx[T]) Get(ctx context.Context, key string) (v T, exists bool, err error) {
	v, exists, err = tx.tx.Get(ctx, key)
	return v, exists, bucketError(tx.bucket, key, err)
}

// Put stages v as key's value, which the commit stores if the key is still
// at the revision the transaction read (still holds nothing, if it held
// nothing). The key must have been read (Get or Load) first.
func (tx *Tx[T]) Put(key string, v T) error {
	return bucketError(tx.bucket, key, tx.tx.Put(key, v))
}

// Delete stages the deletion of key, conditioned as Put is. Deleting a key
// that held no value stages nothing.
func (tx *Tx[T]) Delete(key string) error {
	return bucketError(tx.bucket, key, tx.tx.Delete(key))
}

// Transact runs fn in a transaction and commits what it staged: every key
// changes, or none. When another writer changed a key the transaction
// wrote since it read it, fn runs again in a new transaction, as Modify
// does for one key (up to 50 attempts within ctx, then ErrWriteConflict).
// fn may run several times, so it must depend only on what it reads
// through tx, and must not start another transaction of the bucket (it
// would wait on the first one's lock). An error from fn is returned as it
// is, and nothing is written. A transaction holds at most 1,000 keys.
//
// A commit of several keys is one atomic batch (nats-server 2.12 or
// later). On a single-replica file bucket the server stages each batch in
// a store it creates and syncs to disk, a few milliseconds a commit, so
// there the transactions of an instance that wait are committed together,
// in one batch: fn may then run on another goroutine, never after
// Transact returned, and each transaction still gets its own result. See
// runtime/README.md. A transaction that writes one key is a plain
// conditional write.
func (b *Bucket[T]) Transact(ctx context.Context, fn func(tx *Tx[T]) error) error {
	kb, err := b.open(ctx)
	if err != nil {
		return err
	}
	var fnErr error
	err = kb.Transact(ctx, func(ktx *kv.Tx[T]) error {
		fnErr = fn(&Tx[T]{bucket: b.name, tx: ktx})
		return fnErr
	})
	if err != nil && err == fnErr {
		return err
	}
	return bucketError(b.name, "", err)
}
