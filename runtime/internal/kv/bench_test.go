package kv_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime/fntest"
	"github.com/natsfn/natsfn/runtime/internal/kv"
	"github.com/natsfn/natsfn/runtime/internal/kv/barekv"
)

// The benchmarks measure the engine against what a NATS maintainer would
// write with jetstream.KeyValue, in the same process and against the same
// server, in interleaved rounds (the order flips every round), and report
// the ratio engine/bare of operations per second: its median, minimum and
// maximum over the rounds.
//
//	go test -run '^$' -bench . -benchtime 3000x ./runtime/internal/kv/

const rounds = 21

// BenchmarkModify compares Modify (read, decode, change, encode, write at
// the revision read) with the same loop written on jetstream.KeyValue:
// Get (skipped when it remembers its own last write, as Modify does),
// Update at the entry's revision, again on a lost race. Target: a median
// ratio of at least 0.90.
func BenchmarkModify(b *testing.B) {
	for _, c := range []struct {
		name     string
		replicas int
		workers  int
	}{{"R1", 1, 1}, {"R1/workers=16", 1, 16}, {"R3", 3, 1}} {
		b.Run(c.name, func(b *testing.B) {
			js := benchServer(b, c.replicas)
			bucket := open[counter](b, js, kv.Config{Bucket: "modify", Replicas: c.replicas})
			bare, err := js.KeyValue(context.Background(), "modify")
			if err != nil {
				b.Fatal(err)
			}
			engine := func(ctx context.Context, w int) error {
				_, _, err := bucket.Modify(ctx, fmt.Sprintf("e%d", w), func(v *counter, _ bool) error { v.N++; return nil })
				return err
			}
			mem := &barekv.Memo{}
			baseline := func(ctx context.Context, w int) error { return barekv.Modify(ctx, bare, mem, fmt.Sprintf("b%d", w)) }
			// The baseline with a Nats-Msg-Id on every write, the one thing
			// the engine adds on the wire: it shows what idempotent retries
			// cost apart from the engine's own code.
			withID := func(ctx context.Context, w int) error {
				return barekv.ModifyWithID(ctx, js, bare, mem, fmt.Sprintf("m%d", w))
			}
			compare(b, c.workers, baseline, variant{"", engine}, variant{"msgid-", withID})
		})
	}
}

// BenchmarkTransaction3 compares a transaction over three keys (one
// multi-key read, one atomic batch) with three compare-and-swaps in a row
// on jetstream.KeyValue (Get and Update each), which is what a function
// does today, without atomicity.
func BenchmarkTransaction3(b *testing.B) {
	for _, c := range []struct {
		name     string
		replicas int
		storage  jetstream.StorageType
		workers  int
	}{
		{"R1-file", 1, jetstream.FileStorage, 1},
		{"R1-file/workers=16", 1, jetstream.FileStorage, 16},
		{"R1-memory", 1, jetstream.MemoryStorage, 1},
		{"R3-file", 3, jetstream.FileStorage, 1},
		{"R3-file/workers=16", 3, jetstream.FileStorage, 16},
	} {
		b.Run(c.name, func(b *testing.B) {
			js := benchServer(b, c.replicas)
			ctx := context.Background()
			bucket := open[counter](b, js, kv.Config{Bucket: "txn", Replicas: c.replicas, Storage: c.storage})
			bare, err := js.KeyValue(ctx, "txn")
			if err != nil {
				b.Fatal(err)
			}
			keys := func(prefix string, w int) []string {
				return []string{fmt.Sprintf("%s%d-a", prefix, w), fmt.Sprintf("%s%d-b", prefix, w), fmt.Sprintf("%s%d-c", prefix, w)}
			}
			for w := range c.workers {
				for _, k := range append(keys("e", w), keys("b", w)...) {
					if _, err := bucket.Create(ctx, k, counter{}); err != nil {
						b.Fatal(err)
					}
				}
			}
			engine := func(ctx context.Context, w int) error {
				ks := keys("e", w)
				return bucket.Transact(ctx, func(tx *kv.Tx[counter]) error {
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
			}
			mem := &barekv.Memo{}
			baseline := func(ctx context.Context, w int) error {
				for _, k := range keys("b", w) {
					if err := barekv.Modify(ctx, bare, mem, k); err != nil {
						return err
					}
				}
				return nil
			}
			compare(b, c.workers, baseline, variant{"", engine})
		})
	}
}

// BenchmarkHotKey compares transactions that all change one key (an
// inventory's stock of one product under many orders) with the best loop
// on jetstream.KeyValue for one key: the writers of a process take turns
// on a mutex, so none loses a compare-and-swap, and each remembers the
// last write, so none reads. Each of the engine's transactions reads the
// key, increments it and writes it.
func BenchmarkHotKey(b *testing.B) {
	for _, c := range []struct {
		name     string
		replicas int
		workers  int
	}{
		{"R1-file/workers=16", 1, 16},
		{"R3-file/workers=16", 3, 16},
	} {
		b.Run(c.name, func(b *testing.B) {
			js := benchServer(b, c.replicas)
			ctx := context.Background()
			bucket := open[counter](b, js, kv.Config{Bucket: "hot", Replicas: c.replicas})
			bare, err := js.KeyValue(ctx, "hot")
			if err != nil {
				b.Fatal(err)
			}
			for _, k := range []string{"engine", "bare"} {
				if _, err := bucket.Create(ctx, k, counter{}); err != nil {
					b.Fatal(err)
				}
			}
			engine := func(ctx context.Context, _ int) error {
				return bucket.Transact(ctx, func(tx *kv.Tx[counter]) error {
					v, _, err := tx.Get(ctx, "engine")
					if err != nil {
						return err
					}
					v.N++
					return tx.Put("engine", v)
				})
			}
			var mu sync.Mutex
			mem := &barekv.Memo{}
			baseline := func(ctx context.Context, _ int) error {
				mu.Lock()
				defer mu.Unlock()
				return barekv.Modify(ctx, bare, mem, "bare")
			}
			compare(b, c.workers, baseline, variant{"", engine})
		})
	}
}

type counter struct {
	N int `json:"n"`
}

// benchServer starts one server, or a 3-node cluster, and connects.
func benchServer(b testing.TB, replicas int) jetstream.JetStream {
	if replicas == 1 {
		return connect(b, newSingle(b).url(), nil)
	}
	return connect(b, fntest.NewCluster(b, nil).URLs(), nil)
}

// variant is a design measured against the baseline; its metrics are
// named with prefix.
type variant struct {
	prefix string
	op     func(ctx context.Context, worker int) error
}

// compare runs b.N operations of the baseline and of each variant, split
// in interleaved rounds (the order turns every round), with workers
// goroutines each on its own keys. It reports for each variant the ratio
// of its rate to the baseline's (median, min and max over the rounds) and
// the ratio of the CPU time the process (client and server) spent on it to
// the baseline's, a figure other processes on the machine disturb less.
func compare(b *testing.B, workers int, baseline func(context.Context, int) error, variants ...variant) {
	n := max(b.N/rounds, workers)
	run := func(op func(context.Context, int) error) (wall, cpu time.Duration) {
		start, cpu0 := time.Now(), cpuTime()
		if err := barekv.Run(op, workers, n); err != nil {
			b.Fatal(err)
		}
		return time.Since(start), cpuTime() - cpu0
	}
	ops := []func(context.Context, int) error{baseline}
	for _, v := range variants {
		ops = append(ops, v.op)
	}
	for _, op := range ops {
		run(op) // warm up: connections, keys, caches
	}
	b.ResetTimer()
	walls := make([][]float64, len(ops)) // per design, per round
	cpus := make([][]float64, len(ops))
	totals := make([]time.Duration, len(ops))
	for r := range rounds {
		wall, cpu := make([]time.Duration, len(ops)), make([]time.Duration, len(ops))
		for i := range ops {
			j := (i + r) % len(ops)
			wall[j], cpu[j] = run(ops[j])
			totals[j] += wall[j]
		}
		for j := range ops {
			walls[j] = append(walls[j], wall[0].Seconds()/wall[j].Seconds())
			if cpu[0] > 0 {
				cpus[j] = append(cpus[j], cpu[j].Seconds()/cpu[0].Seconds())
			}
		}
	}
	count := float64(n * rounds)
	b.ReportMetric(count/totals[0].Seconds(), "bare-ops/s")
	for i, v := range variants {
		j := i + 1
		name := v.prefix
		if name == "" {
			b.ReportMetric(count/totals[j].Seconds(), "engine-ops/s")
		}
		slices.Sort(walls[j])
		b.ReportMetric(walls[j][len(walls[j])/2], name+"ratio-median")
		b.ReportMetric(walls[j][0], name+"ratio-min")
		b.ReportMetric(walls[j][len(walls[j])-1], name+"ratio-max")
		if len(cpus[j]) > 0 {
			slices.Sort(cpus[j])
			b.ReportMetric(cpus[j][len(cpus[j])/2], name+"cpu-ratio-median")
		}
	}
}
