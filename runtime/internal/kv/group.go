package kv

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
)

// groups commits the transactions of one process on a single-replica file
// bucket together: one atomic batch for as many as are waiting.
//
// Why by hand: there the server stages every batch in a file store it
// creates, syncs to disk and removes, under the stream's lock (nats-server
// 2.15, newBatchStore; its maintainers' PR #7298), so a bucket took 50 to
// 100 commits a second on this project's VM however many writers there
// were (BenchmarkTransaction3/R1-file), and the order flow on the
// all-in-one fell from 728 orders a second to 169. Grouped, one commit
// carries the transactions of every order waiting.
//
// A group runs the functions of its transactions one after the other on
// one Tx, each seeing what the ones before it staged; a function that
// fails, or panics, has its writes taken back and gets its error. A
// caller whose context ends leaves: its function never runs again, but
// writes it staged may still be committed, as any write whose context
// ended may have landed. The
// group commits once: all of its transactions land, or none; on a lost
// race it runs again, as Transact does. The commit is traced under the
// first transaction's span, and bounded by the earliest deadline of the
// group's transactions.
type groups struct {
	mu      sync.Mutex
	queue   []*grouped
	leading bool // a goroutine runs groups until the queue is empty
}

// grouped is one transaction waiting for its group's commit.
type grouped struct {
	ctx  context.Context
	run  func(tx any) error // the caller's fn, on a *Tx[T]
	done chan error         // its result; buffered, as the caller may be gone

	// mu is held while fn runs; gone says the caller left (its ctx
	// ended), after which fn never runs again: what it captured is the
	// caller's again.
	mu   sync.Mutex
	gone bool
}

// runOnce runs the caller's fn on tx unless the caller has left.
func (t *grouped) runOnce(tx any) (ran bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gone {
		return false, nil
	}
	return true, t.run(tx)
}

// maxGroupKeys bounds the keys of one group's batch, below the server's
// 1,000 messages a batch.
const maxGroupKeys = 900

// transactGrouped queues fn for the next group of b's transactions and
// waits for its result until ctx ends. The group may commit fn's writes
// after that, as any write whose context ended may have landed.
func transactGrouped[T any](ctx context.Context, b *Bucket[T], fn func(tx *Tx[T]) error) error {
	g := b.e.groups
	me := &grouped{ctx: ctx, done: make(chan error, 1), run: func(tx any) (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("kv %s: the transaction's function panicked: %v", b.e.bucket, p)
			}
		}()
		return fn(tx.(*Tx[T]))
	}}
	g.mu.Lock()
	g.queue = append(g.queue, me)
	lead := !g.leading
	g.leading = true
	g.mu.Unlock()
	if lead {
		// The goroutine's owner is the queue: it ends when no transaction
		// waits, and each group ends with its transactions' deadlines.
		go b.runGroups()
	}
	select {
	case err := <-me.done:
		return err
	case <-ctx.Done():
		me.mu.Lock() // waits for a run of fn under way
		me.gone = true
		me.mu.Unlock()
		return fmt.Errorf("kv %s: transaction: %w", b.e.bucket, ctx.Err())
	}
}

// runGroups commits groups until the queue is empty.
func (b *Bucket[T]) runGroups() {
	g := b.e.groups
	for {
		g.mu.Lock()
		batch := g.queue
		g.queue = nil
		if len(batch) == 0 {
			g.leading = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		b.commitGroup(batch)
	}
}

// groupContext is the context of a group's commit: the first
// transaction's values (its span), and the earliest deadline of the
// transactions (writeBudget for one without), so that no write starts
// after the deadline of a transaction it carries.
func groupContext(batch []*grouped) (context.Context, context.CancelFunc) {
	earliest := time.Now().Add(writeBudget)
	for _, t := range batch {
		if d, ok := t.ctx.Deadline(); ok && d.Before(earliest) {
			earliest = d
		}
	}
	return context.WithDeadline(context.WithoutCancel(batch[0].ctx), earliest)
}

// commitGroup runs a group until it commits, loses for good or fails, and
// hands each of its transactions its result. Transactions that do not fit
// in the batch go back to the front of the queue.
func (b *Bucket[T]) commitGroup(batch []*grouped) {
	// A transaction whose context ended is out: it writes nothing.
	live := batch[:0:0]
	for _, t := range batch {
		if err := t.ctx.Err(); err != nil {
			t.done <- fmt.Errorf("kv %s: transaction: %w", b.e.bucket, err)
			continue
		}
		live = append(live, t)
	}
	if batch = live; len(batch) == 0 {
		return
	}
	ctx, cancel := groupContext(batch)
	defer cancel()
	for attempt := 1; ; attempt++ {
		tx := b.Begin()
		results := make([]error, len(batch))
		staged := make([]bool, len(batch))
		n := len(batch)
		for i, t := range batch {
			if len(tx.order) >= maxGroupKeys {
				n = i
				break
			}
			writes, order, count := maps.Clone(tx.writes), slices.Clone(tx.order), tx.staged
			var ran bool
			if ran, results[i] = t.runOnce(tx); !ran {
				continue
			}
			if results[i] == nil && len(tx.order) > maxBatch && i > 0 {
				tx.writes, tx.order = writes, order // it does not fit: the next group
				n = i
				break
			}
			if results[i] != nil {
				tx.writes, tx.order = writes, order // take its writes back
				continue
			}
			staged[i] = tx.staged > count
		}
		if n < len(batch) {
			g := b.e.groups
			g.mu.Lock()
			g.queue = append(slices.Clone(batch[n:]), g.queue...)
			g.mu.Unlock()
			batch, results, staged = batch[:n], results[:n], staged[:n]
		}
		err := tx.Commit(ctx)
		if errors.Is(err, ErrConflict) && attempt < maxConflicts && (attempt == 1 || b.e.conflicts.Pause(ctx, attempt-1) == nil) {
			continue
		}
		if errors.Is(err, ErrConflict) {
			err = fmt.Errorf("kv %s: transaction still contended after %d attempts: %w", b.e.bucket, attempt, ErrConflict)
		}
		for i, t := range batch {
			if staged[i] {
				results[i] = err
			}
			t.done <- results[i]
		}
		return
	}
}
