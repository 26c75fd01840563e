package kv

import (
	"context"
	"hash/maphash"
	"slices"
)

// keyLocks lets the transactions of one process that write the same keys
// of a bucket (one key or several) commit one after the other instead of
// all at once.
//
// Why by hand: the server checks a transaction's revisions only when its
// commit arrives, after staging the whole batch. 64 handlers of one
// instance reserving one hot product sent 64 commits at once, of which one
// could win: the others each paid the staging and lost. Measured on a
// single-replica file bucket, whose staging syncs a store to disk (those
// now commit in groups instead), TestNeverOversold, 100 orders on one
// product, went from under a second to more than 30 s. Queued on a lock,
// each transaction reads after the one before it has committed, and its
// commit wins unless another process wrote the key.
//
// A lock is one of 64 stripes, chosen by the key's hash, taken in order,
// so two transactions never wait on each other in a cycle. It is a
// channel so that waiting ends with the context.
type keyLocks struct {
	seed    maphash.Seed
	stripes [64]chan struct{}
}

func newKeyLocks() *keyLocks {
	l := &keyLocks{seed: maphash.MakeSeed()}
	for i := range l.stripes {
		l.stripes[i] = make(chan struct{}, 1)
	}
	return l
}

// stripesOf returns the sorted, distinct stripes of keys.
func (l *keyLocks) stripesOf(keys []string) []int {
	s := make([]int, 0, len(keys))
	for _, k := range keys {
		s = append(s, int(maphash.String(l.seed, k)%uint64(len(l.stripes))))
	}
	slices.Sort(s)
	return slices.Compact(s)
}

// lock takes the stripes, in order, and reports whether it had to wait
// for one: another transaction of the process held it, and may have
// changed the keys. On ctx's end it takes none.
func (l *keyLocks) lock(ctx context.Context, stripes []int) (waited bool, err error) {
	for i, s := range stripes {
		select {
		case l.stripes[s] <- struct{}{}:
			continue
		default:
		}
		waited = true
		select {
		case l.stripes[s] <- struct{}{}:
		case <-ctx.Done():
			l.unlock(stripes[:i])
			return false, ctx.Err()
		}
	}
	return waited, nil
}

func (l *keyLocks) unlock(stripes []int) {
	for _, s := range stripes {
		<-l.stripes[s]
	}
}

// covers reports whether the stripes held include every one of need.
func covers(held, need []int) bool {
	for _, s := range need {
		if _, found := slices.BinarySearch(held, s); !found {
			return false
		}
	}
	return true
}
