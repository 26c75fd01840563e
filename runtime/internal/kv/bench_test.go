package kv_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/natsfn/natsfn/runtime/internal/kv"
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
// Get, Update at the entry's revision, again on a lost race. Target: a
// median ratio of at least 0.90.
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
			baseline := func(ctx context.Context, w int) error { return bareModify(ctx, bare, fmt.Sprintf("b%d", w)) }
			// The baseline with a Nats-Msg-Id on every write, the one thing
			// the engine adds on the wire: it shows what idempotent retries
			// cost apart from the engine's own code.
			withID := func(ctx context.Context, w int) error { return bareModifyWithID(ctx, js, bare, fmt.Sprintf("m%d", w)) }
			compare(b, c.workers, baseline, variant{"", engine}, variant{"msgid-", withID})
		})
	}
}

// bareModify is the compare-and-swap loop one writes on jetstream.KeyValue.
func bareModify(ctx context.Context, kv jetstream.KeyValue, key string) error {
	return bareLoop(ctx, kv, key, func(data []byte, rev uint64) (err error) {
		if rev == 0 {
			_, err = kv.Create(ctx, key, data)
		} else {
			_, err = kv.Update(ctx, key, data, rev)
		}
		return err
	})
}

// bareModifyWithID is bareModify with a Nats-Msg-Id on each write.
func bareModifyWithID(ctx context.Context, js jetstream.JetStream, kv jetstream.KeyValue, key string) error {
	return bareLoop(ctx, kv, key, func(data []byte, rev uint64) error {
		m := &nats.Msg{Subject: "$KV." + kv.Bucket() + "." + key, Data: data, Header: nats.Header{}}
		_, err := js.PublishMsg(ctx, m, jetstream.WithMsgID(nuid.Next()), jetstream.WithExpectLastSequencePerSubject(rev))
		return err
	})
}

// bareLoop reads key, increments it and writes it at the revision read,
// again while the write loses the race.
func bareLoop(ctx context.Context, kv jetstream.KeyValue, key string, write func(data []byte, rev uint64) error) error {
	for {
		var v counter
		var rev uint64
		e, err := kv.Get(ctx, key)
		switch {
		case err == nil:
			if err := json.Unmarshal(e.Value(), &v); err != nil {
				return err
			}
			rev = e.Revision()
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return err
		}
		v.N++
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		// ErrKeyExists also matches a revision mismatch.
		if err := write(data, rev); !errors.Is(err, jetstream.ErrKeyExists) {
			return err
		}
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
			baseline := func(ctx context.Context, w int) error {
				for _, k := range keys("b", w) {
					if err := bareModify(ctx, bare, k); err != nil {
						return err
					}
				}
				return nil
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
	return connect(b, newCluster(b).urls(), nil)
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
		var next atomic.Int64
		var wg sync.WaitGroup
		var failed atomic.Value
		start, cpu0 := time.Now(), cpuTime()
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// A deadline, as the runtime gives every handler; one per
				// worker, as handlers do not share theirs.
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				for next.Add(1) <= int64(n) {
					if err := op(ctx, w); err != nil {
						failed.Store(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		if err, _ := failed.Load().(error); err != nil {
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
