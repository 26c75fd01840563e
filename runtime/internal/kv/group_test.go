package kv_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/natsfn/natsfn/runtime/internal/kv"
)

// TestGroupedTransactions: on a single-replica file bucket concurrent
// transactions are committed in groups. Each still gets its own result: a
// function that fails or panics writes nothing and gets its error, and the
// others land, every one seeing the writes of those before it.
func TestGroupedTransactions(t *testing.T) {
	js := connect(t, newSingle(t).url(), nil)
	ctx := bg(t)
	b := open[item](t, js, kv.Config{Bucket: "group", History: 64})
	if _, err := b.Create(ctx, "total", item{}); err != nil {
		t.Fatal(err)
	}
	const n = 24
	refused := errors.New("refused")
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.Transact(ctx, func(tx *kv.Tx[item]) error {
				own := fmt.Sprint("own-", i)
				if err := tx.Load(ctx, "total", own); err != nil {
					return err
				}
				v, _, err := tx.Get(ctx, "total")
				if err != nil {
					return err
				}
				v.N++
				if err := errors.Join(tx.Put("total", v), tx.Put(own, item{N: i})); err != nil {
					return err
				}
				switch i % 6 {
				case 1:
					return refused
				case 2:
					panic("boom")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	landed := 0
	for i, err := range errs {
		_, _, gerr := b.GetLatest(ctx, fmt.Sprint("own-", i))
		switch i % 6 {
		case 1:
			if err != refused || !errors.Is(gerr, kv.ErrNotFound) {
				t.Errorf("%d: %v, own key %v; want its error and nothing written", i, err, gerr)
			}
		case 2:
			if err == nil || !errors.Is(gerr, kv.ErrNotFound) {
				t.Errorf("%d: %v, own key %v; want the panic as an error and nothing written", i, err, gerr)
			}
		default:
			if err != nil || gerr != nil {
				t.Errorf("%d: %v, own key %v", i, err, gerr)
			}
			landed++
		}
	}
	if v, _, _ := b.GetLatest(ctx, "total"); v.N != landed {
		t.Errorf("total %d, want %d: one per transaction that landed", v.N, landed)
	}
	// Revision 1 is the Create; the others are commits.
	if commits := len(history(t, js, "group", "total")) - 1; commits >= landed {
		t.Errorf("%d commits for %d transactions: none was grouped", commits, landed)
	} else {
		t.Logf("%d commits for %d transactions", commits, landed)
	}
}

// TestGroupedTransactionOutOfTime: a transaction whose context has ended
// is left out of its group and writes nothing.
func TestGroupedTransactionOutOfTime(t *testing.T) {
	js := connect(t, newSingle(t).url(), nil)
	b := open[item](t, js, kv.Config{Bucket: "late"})
	ctx, cancel := context.WithCancel(bg(t))
	cancel()
	ran := false
	err := b.Transact(ctx, func(tx *kv.Tx[item]) error {
		ran = true
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Transact with an ended context: %v", err)
	}
	// Once Transact has returned, the group never runs the function.
	if ran {
		t.Error("the function of a transaction whose context had ended ran")
	}
}
