package kv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Tx is a transaction over keys of one bucket: it reads keys, remembering
// the revision of each, stages writes, and Commit stores them all or none,
// each conditioned on the revision the transaction read. A Tx is used by
// one goroutine, and once.
//
// Keys read in one Load are one state of the bucket, never part of
// another transaction; keys read by separate calls may each be of a
// different moment. Commit fails with ErrConflict if any key it writes
// changed since it was read; a key only read is not checked, so to make
// the commit depend on one, Put it back unchanged.
type Tx[T any] struct {
	b      *Bucket[T]
	reads  map[string]record
	writes map[string]change
	order  []string // written keys, in the order first staged
	done   bool
	staged int // Puts and Deletes made, for a group (groups)
}

// Begin starts a transaction. Transact runs one and retries it when it
// loses a race.
func (b *Bucket[T]) Begin() *Tx[T] {
	return &Tx[T]{b: b, reads: map[string]record{}, writes: map[string]change{}}
}

// Load reads keys the transaction has not read yet, in one request to the
// server, so that they are one state of the bucket.
//
// On a replicated bucket the replica that answers may not have a write
// this instance made (or, in Transact, waited for) yet: such a state is
// read again, a few times, a millisecond or so apart, and then taken as it
// is (the commit, conditioned on it, then loses the race). What this
// instance last wrote (recent) serves only as that lower bound of a key's
// revision, never as its value: a key only read is not checked by the
// commit, so a remembered value could show a state the bucket never had.
func (tx *Tx[T]) Load(ctx context.Context, keys ...string) error {
	e := tx.b.e
	var todo []string
	for _, k := range keys {
		if err := e.checkKey(k); err != nil {
			return err
		}
		if _, ok := tx.reads[k]; !ok && !slices.Contains(todo, k) {
			todo = append(todo, k)
		}
	}
	switch {
	case len(todo) == 0:
		return nil
	case len(todo) > maxBatch:
		return fmt.Errorf("kv %s: a transaction reads at most %d keys at once, not %d", e.bucket, maxBatch, len(todo))
	}
	for try := 1; ; try++ {
		got, err := e.readState(ctx, todo)
		if err != nil {
			return err
		}
		if try < staleReads && e.replicas > 1 && e.behind(got) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("kv %s: read: %w", e.bucket, ctx.Err())
			case <-time.After(time.Duration(try) * time.Millisecond):
			}
			continue
		}
		maps.Copy(tx.reads, got)
		return nil
	}
}

// staleReads bounds the reads of one Load that a lagging replica answers.
const staleReads = 5

// readState reads keys as one state of the bucket: a key that holds
// nothing has the zero record.
func (e *engine) readState(ctx context.Context, keys []string) (map[string]record, error) {
	if len(keys) == 1 {
		r, err := e.read(ctx, keys[0])
		if err != nil {
			return nil, err
		}
		return map[string]record{keys[0]: r}, nil
	}
	got, err := e.readMany(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]record, len(keys))
	for _, k := range keys {
		out[k] = got[k]
	}
	return out, nil
}

// behind reports whether a read state holds a key at a revision older
// than this instance's own last write of it.
func (e *engine) behind(got map[string]record) bool {
	for k, r := range got {
		if mine, ok := e.recent.get(k); ok && mine.rev > r.rev {
			return true
		}
	}
	return false
}

// Get returns key's value in the transaction: what it staged for the key,
// or else what it read (reading the key now if it has not yet). exists is
// false when the key holds no value.
func (tx *Tx[T]) Get(ctx context.Context, key string) (v T, exists bool, err error) {
	if c, ok := tx.writes[key]; ok {
		if c.del {
			return v, false, nil
		}
		return tx.decode(key, c.at, c.data)
	}
	if err := tx.Load(ctx, key); err != nil {
		return v, false, err
	}
	r := tx.reads[key]
	if !r.live {
		return v, false, nil
	}
	return tx.decode(key, r.rev, r.data)
}

func (tx *Tx[T]) decode(key string, rev uint64, data []byte) (v T, exists bool, err error) {
	if err := json.Unmarshal(data, &v); err != nil {
		return v, false, decodeError(tx.b.e.bucket, key, rev, err)
	}
	return v, true, nil
}

// read returns the record the transaction read for key, or an error if it
// did not read it: a write must be conditioned on what its caller saw.
func (tx *Tx[T]) read(key string) (record, error) {
	if tx.done {
		return record{}, fmt.Errorf("kv %s: the transaction is over", tx.b.e.bucket)
	}
	r, ok := tx.reads[key]
	if !ok {
		return r, fmt.Errorf("kv %s/%s: a transaction writes only keys it has read (Get or Load first)", tx.b.e.bucket, key)
	}
	return r, nil
}

// Put stages v as key's value: Commit stores it if the key is still at the
// revision the transaction read (still holds nothing, if it held nothing).
// Put of an unchanged value is still a write, which is how a transaction
// makes its commit depend on a key it reads.
func (tx *Tx[T]) Put(key string, v T) error {
	r, err := tx.read(key)
	if err != nil {
		return err
	}
	data, err := tx.b.encode(key, v)
	if err != nil {
		return err
	}
	tx.stage(change{key: key, data: data, at: r.rev})
	return nil
}

// Delete stages the deletion of key, conditioned like Put. Deleting a key
// that held no value when read stages nothing (and drops a Put of it).
func (tx *Tx[T]) Delete(key string) error {
	r, err := tx.read(key)
	if err != nil {
		return err
	}
	if !r.live {
		delete(tx.writes, key)
		tx.order = slices.DeleteFunc(tx.order, func(k string) bool { return k == key })
		tx.staged++
		return nil
	}
	tx.stage(change{key: key, del: true, at: r.rev})
	return nil
}

func (tx *Tx[T]) stage(c change) {
	tx.staged++
	if _, ok := tx.writes[c.key]; !ok {
		tx.order = append(tx.order, c.key)
	}
	tx.writes[c.key] = c
}

// Commit stores the staged writes in one atomic batch: all of them, or
// none when any key changed since the transaction read it (ErrConflict).
// A commit whose answer was lost is retried, and recognised as landed if
// it had; see the package doc. A transaction that staged nothing commits
// nothing. Commit ends the transaction, whatever its result.
func (tx *Tx[T]) Commit(ctx context.Context) error {
	e := tx.b.e
	if tx.done {
		return fmt.Errorf("kv %s: the transaction is over", e.bucket)
	}
	tx.done = true
	switch len(tx.order) {
	case 0:
		return nil
	case 1:
		c := tx.writes[tx.order[0]]
		o := opUpdate
		switch {
		case c.del:
			o = opDelete
		case !tx.reads[c.key].live:
			o = opCreate
		}
		rev, err := e.put(ctx, o, c)
		if c.del {
			e.recent.forget(c.key)
		} else {
			e.remember(c.key, rev, c.data, err)
		}
		return err
	}
	if len(tx.order) > maxBatch {
		return fmt.Errorf("kv %s: a transaction writes at most %d keys, not %d", e.bucket, maxBatch, len(tx.order))
	}
	cs := make([]change, len(tx.order))
	for i, k := range tx.order {
		cs[i] = tx.writes[k]
	}
	span := e.trace.start(ctx, opCommit, attrKeys.StringSlice(tx.order))
	rev, attempts, err := e.commit(ctx, cs)
	for i, c := range cs {
		// An atomic batch is stored in one piece: its messages have
		// consecutive sequences, the last one rev (0: an earlier attempt
		// landed, at revisions unknown here).
		if err != nil || rev == 0 || c.del {
			e.recent.forget(c.key)
		} else {
			e.recent.put(c.key, rev-uint64(len(cs)-1-i), c.data)
		}
	}
	if errors.Is(err, ErrConflict) {
		err = fmt.Errorf("kv %s: commit of %d keys: a key changed since the transaction read it: %w", e.bucket, len(cs), ErrConflict)
	} else if err != nil {
		err = fmt.Errorf("kv %s: commit of %d keys: %w", e.bucket, len(cs), err)
	}
	e.trace.end(span, opCommit, rev, attempts, err)
	return err
}

// current reports whether every key the transaction read is still at the
// revision it read, asking the stream leader. Transact asks it before
// standing by a decision made without writing on a replicated bucket.
func (tx *Tx[T]) current(ctx context.Context) (bool, error) {
	for k, r := range tx.reads {
		now, err := tx.b.e.readLeader(ctx, k)
		if err != nil {
			return false, err
		}
		if now.rev != r.rev {
			return false, nil
		}
	}
	return true, nil
}

// Transact runs fn in a transaction and commits what it staged, running
// it again in a new transaction when the commit loses a race, as Modify
// does for one key (up to 50 attempts, jittered waits, within ctx). fn may
// run several times, so it must depend only on what it reads through tx,
// and must not Commit. An error from fn is returned as is, and nothing is
// written.
//
// On a single-replica file bucket, the transactions of a process that
// wait are committed in groups (groups says why): fn runs on the group's
// goroutine, after the functions of the transactions before it in the
// group, and sees what they staged. Elsewhere, transactions of one process
// that write keys in common (one key or several) commit one after the
// other (keyLocks): one that had to wait for another reads again, no
// older than what that one wrote (Load), before it commits. Either way
// fn must not start another transaction of the bucket.
//
// On a replicated bucket, whose reads a lagging replica may answer, a
// decision fn makes without writing (an error, or nothing staged) is kept
// only once the stream leader confirms that the keys read are current;
// otherwise fn runs again.
func (b *Bucket[T]) Transact(ctx context.Context, fn func(tx *Tx[T]) error) error {
	if b.e.groups != nil {
		return transactGrouped(ctx, b, fn)
	}
	var held []int // stripes of b.e.locks this call holds (see keyLocks)
	defer func() { b.e.locks.unlock(held) }()
	for attempt := 1; ; attempt++ {
		tx := b.Begin()
		err := fn(tx)
		if err == nil && len(tx.order) > 0 {
			need := b.e.locks.stripesOf(tx.order)
			if !covers(held, need) {
				b.e.locks.unlock(held)
				held = nil
				waited, err := b.e.locks.lock(ctx, need)
				if err != nil {
					return fmt.Errorf("kv %s: transaction: %w", b.e.bucket, err)
				}
				held = need
				if waited && attempt < maxConflicts {
					continue // read again, after the transaction it waited for
				}
			}
		}
		if err == nil && len(tx.order) > 0 {
			err = tx.Commit(ctx)
			if err == nil || !errors.Is(err, ErrConflict) {
				return err
			}
		} else if b.e.replicas > 1 && attempt < maxConflicts {
			ok, cerr := tx.current(ctx)
			if cerr != nil {
				// Unconfirmed, the decision may rest on a stale read: a
				// retry later is safer than acting on it.
				return fmt.Errorf("kv %s: confirm the transaction's reads (its result: %v): %w", b.e.bucket, err, cerr)
			}
			if ok {
				return err
			}
		} else {
			return err
		}
		if attempt == maxConflicts || attempt > 1 && b.e.conflicts.Pause(ctx, attempt-1) != nil {
			return fmt.Errorf("kv %s: transaction still contended after %d attempts: %w", b.e.bucket, attempt, ErrConflict)
		}
	}
}
