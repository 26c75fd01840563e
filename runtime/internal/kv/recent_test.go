package kv_test

import (
	"errors"
	"testing"

	"github.com/natsfn/natsfn/runtime/internal/kv"
)

// TestModifyAfterOwnWriteSkipsTheRead: a Modify of a key this instance
// just wrote goes straight to the compare-and-swap, and one whose memory
// is stale (another instance wrote since) still applies fn to the value
// stored, and decides not to write only on it.
func TestModifyAfterOwnWriteSkipsTheRead(t *testing.T) {
	s := newSingle(t)
	settle := countRequests(t, s.url(), "$JS.API.DIRECT.GET.KV_recent.>")
	ctx := bg(t)
	mine := open[item](t, connect(t, s.url(), nil), kv.Config{Bucket: "recent", History: 10})
	other := open[item](t, connect(t, s.url(), nil), kv.Config{Bucket: "recent", History: 10})
	incr := func(v *item, _ bool) error { v.N++; return nil }

	if _, _, err := mine.Modify(ctx, "k", incr); err != nil { // read (nothing), create
		t.Fatal(err)
	}
	before := settle()
	for range 3 {
		if _, _, err := mine.Modify(ctx, "k", incr); err != nil {
			t.Fatal(err)
		}
	}
	if n := settle() - before; n != 0 {
		t.Fatalf("3 Modifies of a key this instance wrote last read it %d times, want 0", n)
	}

	// Another instance writes: mine remembers n=4 at a revision that is
	// no longer the key's.
	if _, _, err := other.Modify(ctx, "k", incr); err != nil {
		t.Fatal(err)
	}
	v, _, err := mine.Modify(ctx, "k", incr)
	if err != nil || v.N != 6 {
		t.Fatalf("Modify over another's write: n=%d, %v; want 6 (no increment lost)", v.N, err)
	}

	// A refusal decided on stale memory is not kept: fn refuses n=6,
	// which mine remembers, while the key holds 7.
	if _, _, err := other.Modify(ctx, "k", incr); err != nil {
		t.Fatal(err)
	}
	refuse := errors.New("refused at 6")
	seen := 0
	v, _, err = mine.Modify(ctx, "k", func(v *item, _ bool) error {
		seen = v.N
		if v.N == 6 {
			return refuse
		}
		return nil // 7: nothing to change
	})
	if err != nil || seen != 7 || v.N != 7 {
		t.Fatalf("Modify with fn refusing 6 while the key holds 7: fn last saw %d, got n=%d, %v", seen, v.N, err)
	}
	if h := history(t, connect(t, s.url(), nil), "recent", "k"); len(h) != 7 {
		t.Fatalf("%d revisions, want 7 (1 create, 6 increments, no write for the no-op)", len(h))
	}
}
