package kv

import (
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// TestCommitRemembersRevisions: what a commit leaves in recent is each
// key's revision as stored, for a one-key commit and for an atomic batch,
// whose messages Commit numbers from the last one's sequence. Load takes
// it as a lower bound of what a replica may answer: a revision too high
// would have every later Load of the key read again until it gave up.
func TestCommitRemembersRevisions(t *testing.T) {
	b, _, ctx := openInternal(t, Config{Bucket: "remember", Storage: jetstream.MemoryStorage})
	for _, keys := range [][]string{{"one"}, {"a", "b", "c"}, {"c", "d"}} {
		if err := b.Transact(ctx, func(tx *Tx[int]) error {
			if err := tx.Load(ctx, keys...); err != nil {
				return err
			}
			for _, k := range keys {
				if err := tx.Put(k, len(k)); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			_, rev, err := b.GetLatest(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if mine, ok := b.e.recent.get(k); !ok || mine.rev != rev {
				t.Errorf("after committing %v: %s remembered at %d (%v), stored at %d", keys, k, mine.rev, ok, rev)
			}
		}
	}
}
