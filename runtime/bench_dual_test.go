package runtime_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/natsfn/natsfn/runtime/fntest"
)

// BenchmarkDualPublish measures what a producer at phase dual pays to write
// an event in two majors atomically, against the same two events written as
// two awaited publishes (each with its Nats-Msg-Id, the second sent once
// the first is stored: what a producer without atomic batches writes, and
// a crash between the two leaves one major without the other). One
// process, one embedded server (file storage), interleaved rounds.
//
// Awaited, one pair at a time (latency-bound: an endpoint's Emit):
//
//   - two-awaited: js.PublishMsg v1, then js.PublishMsg v2;
//   - batch: orbit.go's jetstreamext.PublishMsgBatch of both, without the
//     first message's ack (the runtime's internal/kv commit does the same);
//   - batch-headers: the runtime's way, the batch headers spoken directly,
//     the commit's answer awaited.
//
// Pipelined, up to 512 messages in flight (an event handler's Emit, whose PubAcks
// the runtime awaits on callbacks):
//
//   - two-async: both as js.PublishMsgAsync, not atomic;
//   - batch-async: the runtime's emitter, the first message a plain publish
//     and the commit a js.PublishMsgAsync.
//
// Each runs on an R1 file stream (what `make run` and a one-server compose
// make) and on an R1 memory stream. The storage matters: nats-server 2.15
// stages an atomic batch in a store of its own until the commit
// (jetstream_batching.go, newBatchStore), a new file store (a directory,
// files, a sync) for every batch of an R1 file stream, a memory store
// otherwise (R3 streams included). On the file stream a batch costs
// about 5 ms, whatever the client does, so that sub-benchmark stops at
// 500 pairs.
//
// b.N is pairs per design and round (make bench: 5000). It logs each
// design's median pairs/s and its per-round ratio to two-awaited (median,
// min-max), and reports the medians.
func BenchmarkDualPublish(b *testing.B) {
	srv := fntest.NewServer(b)
	for _, storage := range []jetstream.StorageType{jetstream.FileStorage, jetstream.MemoryStorage} {
		b.Run(storageName(storage), func(b *testing.B) {
			n := b.N
			if storage == jetstream.FileStorage {
				// 5 ms a batch: see the doc comment.
				n = min(n, 500)
			}
			rounds := benchRounds(b, 7)
			designs := dualDesigns()
			rates := map[string][]float64{}
			for range rounds {
				for _, d := range designs {
					rates[d.name] = append(rates[d.name], dualRound(b, srv, d, storage, n))
				}
			}
			if b.N == 1 {
				return
			}
			base := rates["two-awaited"]
			b.Logf("%s stream: %d rounds of %d pairs; ratio = pairs/s over two-awaited's in the same round", storageName(storage), rounds, n)
			b.Logf("%-14s %26s %22s", "design", "pairs/s (min-max)", "/two-awaited (min-max)")
			for _, d := range designs {
				r := ratios(rates[d.name], base)
				b.Logf("%-14s %8.0f (%.0f-%.0f) %8.2f (%.2f-%.2f)", d.name, median(rates[d.name]),
					slices.Min(rates[d.name]), slices.Max(rates[d.name]), median(r), slices.Min(r), slices.Max(r))
				b.ReportMetric(median(rates[d.name]), d.name+"-pairs/s")
				b.ReportMetric(median(r), d.name+"/two-awaited")
			}
		})
	}
}

func storageName(s jetstream.StorageType) string {
	if s == jetstream.MemoryStorage {
		return "R1-memory"
	}
	return "R1-file"
}

// TestDualDesignsStoreEveryPair runs every design of BenchmarkDualPublish
// with a few pairs: each must store both majors of every pair, once.
func TestDualDesignsStoreEveryPair(t *testing.T) {
	srv := fntest.NewServer(t)
	for _, d := range dualDesigns() {
		dualRound(t, srv, d, jetstream.FileStorage, 100)
		dualRound(t, srv, d, jetstream.MemoryStorage, 300)
	}
}

type dualDesign struct {
	name string
	// publish writes n pairs from pairs(i).
	publish func(tb testing.TB, js jetstream.JetStream, n int, pair func(i int) (v1, v2 *nats.Msg))
}

func dualDesigns() []dualDesign {
	return []dualDesign{
		{"two-awaited", func(tb testing.TB, js jetstream.JetStream, n int, pair func(int) (*nats.Msg, *nats.Msg)) {
			ctx := context.Background()
			for i := range n {
				a, b := pair(i)
				for _, m := range []*nats.Msg{a, b} {
					if _, err := js.PublishMsg(ctx, m); err != nil {
						tb.Fatal(err)
					}
				}
			}
		}},
		{"batch", func(tb testing.TB, js jetstream.JetStream, n int, pair func(int) (*nats.Msg, *nats.Msg)) {
			ctx := context.Background()
			for i := range n {
				a, b := pair(i)
				if _, err := jetstreamext.PublishMsgBatch(ctx, js, []*nats.Msg{a, b}, jetstreamext.BatchFlowControl{AckFirst: false}); err != nil {
					tb.Fatal(err)
				}
			}
		}},
		{"batch-headers", func(tb testing.TB, js jetstream.JetStream, n int, pair func(int) (*nats.Msg, *nats.Msg)) {
			ctx := context.Background()
			for i := range n {
				a, b := pair(i)
				stampBatch(a, b)
				if err := js.Conn().PublishMsg(a); err != nil {
					tb.Fatal(err)
				}
				if _, err := js.PublishMsg(ctx, b); err != nil {
					tb.Fatal(err)
				}
			}
		}},
		{"two-async", func(tb testing.TB, js jetstream.JetStream, n int, pair func(int) (*nats.Msg, *nats.Msg)) {
			for i := range n {
				a, b := pair(i)
				for _, m := range []*nats.Msg{a, b} {
					if _, err := js.PublishMsgAsync(m, stall); err != nil {
						tb.Fatal(err)
					}
				}
			}
			awaitAsync(tb, js)
		}},
		{"batch-async", func(tb testing.TB, js jetstream.JetStream, n int, pair func(int) (*nats.Msg, *nats.Msg)) {
			for i := range n {
				a, b := pair(i)
				stampBatch(a, b)
				if err := js.Conn().PublishMsg(a); err != nil {
					tb.Fatal(err)
				}
				if _, err := js.PublishMsgAsync(b, stall); err != nil {
					tb.Fatal(err)
				}
			}
			awaitAsync(tb, js)
		}},
	}
}

// stampBatch makes a and b one atomic batch that b commits, as the
// runtime's emitter does.
func stampBatch(a, b *nats.Msg) {
	id := nuid.Next()
	a.Header.Set("Nats-Batch-Id", id)
	a.Header.Set("Nats-Batch-Sequence", "1")
	b.Header.Set("Nats-Batch-Id", id)
	b.Header.Set("Nats-Batch-Sequence", "2")
	b.Header.Set("Nats-Batch-Commit", "1")
}

func awaitAsync(tb testing.TB, js jetstream.JetStream) {
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(time.Minute):
		tb.Fatal("async publishes not acknowledged")
	}
}

// dualRound publishes n pairs with d into a fresh stream and returns
// pairs/s; it checks that both majors of every pair were stored.
func dualRound(tb testing.TB, srv *fntest.Server, d dualDesign, storage jetstream.StorageType, n int) float64 {
	tb.Helper()
	ctx := context.Background()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		tb.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(512), jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	stream := "DUAL_" + storageName(storage) + "_" + d.name
	v1 := "dual." + storageName(storage) + "." + d.name + ".ev"
	v2 := v1 + ".v2"
	cfg := jetstream.StreamConfig{Name: stream, Subjects: []string{v1, v2}, Storage: storage,
		Duplicates: 2 * time.Minute, AllowAtomicPublish: true}
	// A stream made again just after the last round's was deleted is
	// refused now and then (10049, the directory still going away).
	for attempt := 0; ; attempt++ {
		_, err := js.CreateStream(ctx, cfg)
		if err == nil {
			break
		}
		if attempt == 20 {
			tb.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer func() { _ = js.DeleteStream(ctx, stream) }()
	data1 := []byte(`{"order_id":"o-0123456789","total_cents":3998}`)
	data2 := []byte(`{"order_id":"o-0123456789","total_money":{"amount":3998,"currency":"EUR"}}`)
	pair := func(i int) (*nats.Msg, *nats.Msg) {
		id := "bench:" + strconv.Itoa(i)
		a := &nats.Msg{Subject: v1, Data: data1, Header: nats.Header{}}
		b := &nats.Msg{Subject: v2, Data: data2, Header: nats.Header{}}
		a.Header.Set(nats.MsgIdHdr, id+":"+v1)
		b.Header.Set(nats.MsgIdHdr, id+":"+v2)
		return a, b
	}
	t0 := time.Now()
	d.publish(tb, js, n, pair)
	rate := float64(n) / time.Since(t0).Seconds()
	st, err := js.Stream(ctx, stream)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(">"))
	if err != nil {
		tb.Fatal(err)
	}
	if a, b := info.State.Subjects[v1], info.State.Subjects[v2]; a != uint64(n) || b != uint64(n) {
		tb.Fatalf("%s: stored %d and %d of %d pairs", d.name, a, b, n)
	}
	return rate
}

// stall lets a pipelined publish wait for room among the 512 in flight
// rather than fail after nats.go's 200ms.
var stall = jetstream.WithStallWait(10 * time.Second)
