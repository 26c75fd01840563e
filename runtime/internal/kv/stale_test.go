package kv_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/natsfn/natsfn/runtime/fntest"
	"github.com/natsfn/natsfn/runtime/internal/kv"
)

// TestReadsOnAReplicatedBucket writes a key on a 3-node cluster and reads
// it back at once through every node. GetLatest must see every write
// acknowledged before it; Get (a direct get, answered by the node's own
// replica, since queue groups prefer local subscribers) may not, and the
// test reports how often it did not: the figure in the package doc.
func TestReadsOnAReplicatedBucket(t *testing.T) {
	c := fntest.NewCluster(t, nil)
	writer := open[item](t, connect(t, c.URLs(), nil), kv.Config{Bucket: "lag", Replicas: 3})
	var readers []*kv.Bucket[item]
	for _, s := range c.Servers {
		readers = append(readers, open[item](t, connect(t, s.ClientURL(), nil), kv.Config{Bucket: "lag", Replicas: 3}))
	}
	ctx := bg(t)
	const writes = 300
	stale := make([]int, len(readers))
	var rev uint64
	for i := range writes {
		var err error
		if rev, err = writer.Update(ctx, "k", item{N: i}, rev); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		for j, r := range readers {
			if _, got, err := r.Get(ctx, "k"); err != nil || got < rev {
				stale[j]++
			}
		}
		for j, r := range readers {
			v, got, err := r.GetLatest(ctx, "k")
			if err != nil || got != rev || v.N != i {
				t.Fatalf("GetLatest through node %d after write %d: n=%d at %d, %v; want n=%d at %d", j+1, i, v.N, got, err, i, rev)
			}
		}
	}
	t.Logf("direct gets behind a write acknowledged just before, per node, of %d: %v", writes, stale)
}

// TestModifyAndTransactOnAReplicatedBucket: on three replicas, where
// Modify and Transact confirm with the leader what they decide without
// writing and re-read from it after a lost race, concurrent increments
// all land once, and refusals and no-ops write nothing.
func TestModifyAndTransactOnAReplicatedBucket(t *testing.T) {
	c := fntest.NewCluster(t, nil)
	b := open[item](t, connect(t, c.URLs(), nil), kv.Config{Bucket: "r3", Replicas: 3, History: 5})
	ctx := bg(t)
	const writers, each = 4, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				var err error
				if w%2 == 0 {
					_, _, err = b.Modify(ctx, "n", func(v *item, _ bool) error { v.N++; return nil })
				} else {
					err = b.Transact(ctx, func(tx *kv.Tx[item]) error {
						v, _, err := tx.Get(ctx, "n")
						if err != nil {
							return err
						}
						v.N++
						return tx.Put("n", v)
					})
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	v, rev, err := b.GetLatest(ctx, "n")
	if err != nil || v.N != writers*each {
		t.Fatalf("n = %d, %v; want %d", v.N, err, writers*each)
	}
	if _, same, err := b.Modify(ctx, "n", func(*item, bool) error { return nil }); err != nil || same != rev {
		t.Errorf("no-op Modify: revision %d, %v; want %d", same, err, rev)
	}
	stop := errors.New("no")
	if _, _, err := b.Modify(ctx, "n", func(v *item, _ bool) error { v.N = 0; return stop }); err != stop {
		t.Errorf("refusing Modify: %v", err)
	}
	if err := b.Transact(ctx, func(tx *kv.Tx[item]) error {
		if err := tx.Load(ctx, "n", "m"); err != nil {
			return err
		}
		return stop
	}); err != stop {
		t.Errorf("refusing Transact: %v", err)
	}
	if _, now, _ := b.GetLatest(ctx, "n"); now != rev {
		t.Errorf("revision %d after no-ops and refusals, want %d", now, rev)
	}
}

// TestAWriterAloneNeverConflicts: on three replicas the leader acknowledges
// a write before it clears the write's in-flight state, so a writer's next
// conditional write of the key, sent at once, can be refused with 10164
// "wrong last sequence" although nobody else wrote. That refusal is not a
// lost race, and a writer alone must never see ErrConflict.
func TestAWriterAloneNeverConflicts(t *testing.T) {
	c := fntest.NewCluster(t, nil)
	b := open[item](t, connect(t, c.URLs(), nil), kv.Config{Bucket: "alone", Replicas: 3})
	ctx := bg(t)
	var rev uint64
	for i := range 1000 {
		var err error
		if rev, err = b.Update(ctx, "k", item{N: i}, rev); err != nil {
			t.Fatalf("write %d at the revision the last one returned: %v", i, err)
		}
	}
}
