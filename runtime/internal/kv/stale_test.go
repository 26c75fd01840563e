package kv_test

import (
	"testing"

	"github.com/natsfn/natsfn/runtime/internal/kv"
)

// TestReadsOnAReplicatedBucket writes a key on a 3-node cluster and reads
// it back at once through every node. GetLatest must see every write
// acknowledged before it; Get (a direct get, answered by the node's own
// replica, since queue groups prefer local subscribers) may not, and the
// test reports how often it did not: the figure in the package doc.
func TestReadsOnAReplicatedBucket(t *testing.T) {
	c := newCluster(t)
	writer := open[item](t, connect(t, c.urls(), nil), kv.Config{Bucket: "lag", Replicas: 3})
	var readers []*kv.Bucket[item]
	for _, s := range c.servers {
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
