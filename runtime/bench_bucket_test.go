package runtime_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
	"github.com/natsfn/natsfn/runtime/internal/kv/barekv"
)

// BenchmarkBucket compares a runtime.Bucket with the loop a NATS
// maintainer writes on jetstream.KeyValue, against one server, in one
// process and in interleaved rounds (7; the order turns every round):
//
//   - Modify: Bucket.Modify (read, decode, change, encode, write at the
//     revision read, retried on a lost race) against Get and Update at the
//     entry's revision, again on a lost race. Target: ratio >= 0.90.
//   - Transaction3: Bucket.Transact over three keys (one multi-key read,
//     one atomic batch) against three such compare-and-swaps in a row,
//     which are not atomic.
//
// Both buckets are single-replica file buckets, as `make run` makes them.
// workers goroutines each work on keys of their own. It logs each
// design's median op/s (min-max) and the ratio runtime/bare per round
// (median, min-max), and reports the median ratio.
func BenchmarkBucket(b *testing.B) {
	srv := fntest.NewServer(b)
	svc := runtime.NewService(runtime.ServiceConfig{Name: "bench", Version: "1.0.0"})
	bucket := runtime.NewBucket[count](svc, runtime.BucketConfig{Name: "natsfn"})
	var life context.Context
	svc.OnStart(func(ctx context.Context, _ runtime.Deps) error { life = ctx; return nil })
	fntest.Run(b, srv, svc)
	bare, err := srv.JetStream(b).CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "bare", Storage: jetstream.FileStorage})
	if err != nil {
		b.Fatal(err)
	}
	incr := func(v *count, _ bool) error { v.N++; return nil }
	// Each worker's context, as a handler's: the instance's, with the
	// deadline barekv.Run gives the bare loop's worker. The deadline
	// matters: a write whose context has none, or one further off than the
	// bucket's duplicate window, gets a timer of its own, which no handler
	// (5 s by default) pays.
	handler := workerContexts(b, life)
	mem := &barekv.Memo{}
	keys := func(prefix string, w int) []string {
		return []string{fmt.Sprintf("%s%d-a", prefix, w), fmt.Sprintf("%s%d-b", prefix, w), fmt.Sprintf("%s%d-c", prefix, w)}
	}
	cases := []struct {
		name           string
		workers        int
		natsfn, barekv func(ctx context.Context, w int) error
	}{
		{"Modify", 1, func(ctx context.Context, w int) error {
			_, _, err := bucket.Modify(handler(ctx, w), fmt.Sprint("m", w), incr)
			return err
		}, func(ctx context.Context, w int) error { return barekv.Modify(ctx, bare, mem, fmt.Sprint("m", w)) }},
		{"Modify/workers=16", 16, func(ctx context.Context, w int) error {
			_, _, err := bucket.Modify(handler(ctx, w), fmt.Sprint("m", w), incr)
			return err
		}, func(ctx context.Context, w int) error { return barekv.Modify(ctx, bare, mem, fmt.Sprint("m", w)) }},
		{"Transaction3", 1, func(ctx context.Context, w int) error {
			ks := keys("t", w)
			ctx = handler(ctx, w)
			return bucket.Transact(ctx, func(tx *runtime.Tx[count]) error {
				if err := tx.Load(ctx, ks...); err != nil {
					return err
				}
				for _, k := range ks {
					v, _, err := tx.Get(ctx, k)
					if err != nil {
						return err
					}
					v.N++
					if err := tx.Put(k, v); err != nil {
						return err
					}
				}
				return nil
			})
		}, func(ctx context.Context, w int) error {
			for _, k := range keys("t", w) {
				if err := barekv.Modify(ctx, bare, mem, k); err != nil {
					return err
				}
			}
			return nil
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			rounds := benchRounds(b, 7)
			n := max(b.N/rounds, c.workers)
			designs := []struct {
				name string
				op   func(context.Context, int) error
			}{{"bare", c.barekv}, {"natsfn", c.natsfn}}
			for _, d := range designs {
				opTime(b, d.op, c.workers, c.workers) // create the keys, warm up
			}
			rates := map[string][]float64{}
			for r := range rounds {
				for i := range designs {
					d := designs[(i+r)%len(designs)]
					rates[d.name] = append(rates[d.name], float64(n)/opTime(b, d.op, c.workers, n).Seconds())
				}
			}
			if b.N == 1 {
				return
			}
			ratio := ratios(rates["natsfn"], rates["bare"])
			b.Logf("%d rounds of %d operations, %d workers; ratio = op/s over bare KV's in the same round", rounds, n, c.workers)
			for _, d := range designs {
				b.Logf("%-7s %8.0f op/s (%.0f-%.0f)", d.name, median(rates[d.name]), slices.Min(rates[d.name]), slices.Max(rates[d.name]))
			}
			b.Logf("ratio   %.3f (%.3f-%.3f)", median(ratio), slices.Min(ratio), slices.Max(ratio))
			b.ReportMetric(median(rates["bare"]), "bare-op/s")
			b.ReportMetric(median(rates["natsfn"]), "natsfn-op/s")
			b.ReportMetric(median(ratio), "natsfn/bare")
		})
	}
}

// workerContexts returns, for a worker's context from barekv.Run, a
// context of the instance (life) with the same deadline, made once per
// worker and round: the worker's own, so that no two workers share a
// parent, as no two handlers do.
func workerContexts(b *testing.B, life context.Context) func(ctx context.Context, w int) context.Context {
	type made struct {
		from, ctx context.Context
		cancel    context.CancelFunc
	}
	per := make([]made, 64) // worker w alone touches per[w]
	b.Cleanup(func() {
		for _, m := range per {
			if m.cancel != nil {
				m.cancel()
			}
		}
	})
	return func(ctx context.Context, w int) context.Context {
		if m := &per[w]; m.from != ctx {
			if m.cancel != nil {
				m.cancel()
			}
			deadline, _ := ctx.Deadline()
			m.ctx, m.cancel = context.WithDeadline(life, deadline)
			m.from = ctx
		}
		return per[w].ctx
	}
}

// opTime runs n operations on workers goroutines, each with its own keys
// and a deadline, as a handler has, and returns the time they took.
func opTime(b *testing.B, op func(context.Context, int) error, workers, n int) time.Duration {
	b.Helper()
	start := time.Now()
	if err := barekv.Run(op, workers, n); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}
