package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
	"github.com/synadia-io/orbit.go/jetstreamext"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// BenchmarkEvent measures the event path against the hand-written loops a
// NATS maintainer would write, in one process, on one embedded server
// (file storage), in interleaved rounds so that a noisy neighbour slows all
// of them alike. Every design does the same work with the same guarantee:
// consume from a durable pull consumer (MaxAckPending 256), decode the JSON
// event, publish a JSON event with a Nats-Msg-Id, and ack the input only
// after the stream acknowledged that publish (a failed publish naks it).
//
//   - serial: the Consume callback publishes, waits for the PubAck and
//     acks, one message at a time;
//   - pool: the callback hands each message to 64 workers that do the same;
//   - async: the callback publishes asynchronously and the PubAck callback
//     acks the input;
//   - fast: the callback hands each message to one goroutine that adds its
//     output to a fast batch (nats-server's fast ingest, orbit.go's
//     jetstreamext.FastPublisher: the stream acknowledges every 100th
//     message, each ack covering every message before it) and acks the
//     inputs an ack covers; when no input waits it closes the batch, whose
//     commit covers the rest;
//   - async+envelope: the same as async, publishing the headers natsfn's Emit
//     writes (Nats-Msg-Id, the CloudEvents attributes, correlation and
//     causation ids: nine, about 330 bytes), which the server parses and
//     stores with every event;
//   - fast+envelope: the same as fast, with that envelope: the most a
//     design that carries natsfn's envelope can do, and so the most
//     natsfn can;
//   - natsfn: runtime.OnEvent and runtime.Emit with their defaults, on a
//     topic whose schema accepts any document, so that what is measured
//     is the event path and not a schema;
//   - natsfn+schema: the same with the tests' schema, which decodes the
//     document into a map to check it (on the input and on the emit).
//
// Each round also reports the process's CPU time per event (user and
// system, the embedded server's included, which all designs share): on a
// machine others use as well, it is steadier than the rates.
//
// b.N is the number of events per design and round (make bench: 50000).
// It reports each design's median events/s and the median, min and max of
// its per-round ratio to the best bare design, and logs a table.
func BenchmarkEvent(b *testing.B) {
	srv := fntest.NewServer(b)
	rounds := benchRounds(b, 7)
	res := runEventDesigns(b, srv, eventDesigns(), rounds, b.N)
	if b.N > 1 {
		res.report(b)
	}
}

// TestEventDesignsRelayEverything runs every design of BenchmarkEvent with
// a few events, so that `go test -race` checks the runtime's pipelined
// event path and the designs themselves: each must relay every event once
// and ack every input.
func TestEventDesignsRelayEverything(t *testing.T) {
	srv := fntest.NewServer(t)
	runEventDesigns(t, srv, eventDesigns(), 1, 300)
}

// TestFastBatchDeduplicates checks what the fast design's guarantee rests
// on: a Nats-Msg-Id seen before, in the same fast batch or an earlier one,
// is not stored again.
func TestFastBatchDeduplicates(t *testing.T) {
	srv := fntest.NewServer(t)
	js := srv.JetStream(t)
	ctx := context.Background()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: "FAST", Subjects: []string{"fast"}, Duplicates: time.Minute, AllowBatchPublish: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, ids := range [][]string{{"a", "b", "a", "c", "b", "d"}, {"a", "d", "e"}} {
		batch, err := jetstreamext.NewFastPublisher(js)
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			m := nats.NewMsg("fast")
			m.Header.Set(nats.MsgIdHdr, id)
			if _, err := batch.AddMsg(m); err != nil {
				t.Fatalf("batch %d: add %s: %v", i, id, err)
			}
		}
		if _, err := batch.Close(ctx); err != nil {
			t.Fatalf("batch %d: close: %v", i, err)
		}
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 5 {
		t.Fatalf("%d messages stored, want 5 (a to e once each)", info.State.Msgs)
	}
}

// eventDesign is one way to relay events: start begins relaying from in to
// out and returns a function that stops it.
type eventDesign struct {
	name  string
	bare  bool
	start func(tb testing.TB, srv *fntest.Server, in, out topic) (stop func())
}

func eventDesigns() []eventDesign {
	return []eventDesign{
		{name: "serial", bare: true, start: startSerialLoop},
		{name: "pool", bare: true, start: startPoolLoop},
		{name: "async", bare: true, start: startAsyncLoop(false)},
		{name: "fast", bare: true, start: startFastLoop(false)},
		{name: "async+envelope", bare: true, start: startAsyncLoop(true)},
		{name: "fast+envelope", bare: true, start: startFastLoop(true)},
		{name: "natsfn", start: startNatsfn(true)},
		{name: "natsfn+schema", start: startNatsfn(false)},
	}
}

// benchConsumer is the consumer every bare design uses: the runtime's
// defaults.
func benchConsumer(tb testing.TB, srv *fntest.Server, in topic) (*nats.Conn, jetstream.JetStream, jetstream.Consumer) {
	tb.Helper()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		tb.Fatal(err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(10*time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	cons, err := js.CreateOrUpdateConsumer(context.Background(), in.stream, jetstream.ConsumerConfig{
		Durable: "bare", FilterSubject: in.subject, AckPolicy: jetstream.AckExplicitPolicy,
		MaxAckPending: 256, AckWait: 30 * time.Second,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return nc, js, cons
}

// relayed decodes an input event and encodes the output, as every design
// does; it returns the output and its Nats-Msg-Id.
func relayed(msg jetstream.Msg) (*nats.Msg, bool) {
	var ev event
	if err := json.Unmarshal(msg.Data(), &ev); err != nil {
		return nil, false
	}
	md, err := msg.Metadata()
	if err != nil {
		return nil, false
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return nil, false
	}
	out := nats.NewMsg("")
	out.Data = data
	out.Header.Set(nats.MsgIdHdr, "bench:"+strconv.FormatUint(md.Sequence.Stream, 10))
	return out, true
}

func startSerialLoop(tb testing.TB, srv *fntest.Server, in, out topic) func() {
	nc, js, cons := benchConsumer(tb, srv, in)
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		pub, ok := relayed(msg)
		if !ok {
			_ = msg.Term()
			return
		}
		pub.Subject = out.subject
		if _, err := js.PublishMsg(context.Background(), pub); err != nil {
			_ = msg.Nak()
			return
		}
		_ = msg.Ack()
	}, jetstream.PullMaxMessages(256))
	if err != nil {
		tb.Fatal(err)
	}
	return func() { cc.Stop(); nc.Close() }
}

func startPoolLoop(tb testing.TB, srv *fntest.Server, in, out topic) func() {
	nc, js, cons := benchConsumer(tb, srv, in)
	work := make(chan jetstream.Msg)
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for msg := range work {
				pub, ok := relayed(msg)
				if !ok {
					_ = msg.Term()
					continue
				}
				pub.Subject = out.subject
				if _, err := js.PublishMsg(context.Background(), pub); err != nil {
					_ = msg.Nak()
					continue
				}
				_ = msg.Ack()
			}
		}()
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) { work <- msg }, jetstream.PullMaxMessages(256))
	if err != nil {
		tb.Fatal(err)
	}
	return func() { cc.Stop(); <-cc.Closed(); close(work); wg.Wait(); nc.Close() }
}

// startAsyncLoop relays with async publishes; envelope adds natsfn's
// event headers.
func startAsyncLoop(envelope bool) func(tb testing.TB, srv *fntest.Server, in, out topic) func() {
	return func(tb testing.TB, srv *fntest.Server, in, out topic) func() {
		return asyncLoop(tb, srv, in, out, envelope)
	}
}

func asyncLoop(tb testing.TB, srv *fntest.Server, in, out topic, envelope bool) func() {
	var inputs sync.Map // *nats.Msg published -> jetstream.Msg to settle
	settle := func(pub *nats.Msg, ok bool) {
		v, found := inputs.LoadAndDelete(pub)
		if !found {
			return
		}
		if ok {
			_ = v.(jetstream.Msg).Ack()
		} else {
			_ = v.(jetstream.Msg).Nak()
		}
	}
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		tb.Fatal(err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(10*time.Second),
		jetstream.WithPublishAsyncAckHandler(func(_ jetstream.JetStream, pub *nats.Msg, _ *jetstream.PubAck) { settle(pub, true) }),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, pub *nats.Msg, _ error) { settle(pub, false) }))
	if err != nil {
		tb.Fatal(err)
	}
	cons, err := js.CreateOrUpdateConsumer(context.Background(), in.stream, jetstream.ConsumerConfig{
		Durable: "bare", FilterSubject: in.subject, AckPolicy: jetstream.AckExplicitPolicy,
		MaxAckPending: 256, AckWait: 30 * time.Second,
	})
	if err != nil {
		tb.Fatal(err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		pub, ok := relayed(msg)
		if !ok {
			_ = msg.Term()
			return
		}
		pub.Subject = out.subject
		if envelope {
			addEnvelope(pub, out)
		}
		inputs.Store(pub, msg)
		if _, err := js.PublishMsgAsync(pub); err != nil {
			inputs.Delete(pub)
			_ = msg.Nak()
		}
	}, jetstream.PullMaxMessages(256))
	if err != nil {
		tb.Fatal(err)
	}
	return func() { cc.Stop(); nc.Close() }
}

// startFastLoop relays through fast batches: the same guarantee as the
// async loop (an input is acked once the stream stored its output: in a
// batch that fails on a gap, an ack for batch message n says that every
// message up to n is stored; a failed add or commit naks every input not
// yet acked, as a failed PubAck does, and so does an error the stream
// reports for any message of the batch) with one ack from the stream per 100
// events instead of one per event. Nats-Msg-Id deduplicates inside a fast
// batch as outside one.
//
// With envelope it publishes the headers natsfn's Emit writes, as
// async+envelope does: the best a loop carrying natsfn's envelope does.
func startFastLoop(envelope bool) func(tb testing.TB, srv *fntest.Server, in, out topic) func() {
	return func(tb testing.TB, srv *fntest.Server, in, out topic) func() {
		return fastLoop(tb, srv, in, out, envelope)
	}
}

func fastLoop(tb testing.TB, srv *fntest.Server, in, out topic, envelope bool) func() {
	nc, js, cons := benchConsumer(tb, srv, in)
	inputs := make(chan jetstream.Msg, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		type held struct {
			seq uint64 // the output's sequence in its batch
			msg jetstream.Msg
		}
		var unacked []held
		var batch jetstreamext.FastPublisher
		var failed atomic.Bool // the stream reported an error or a gap
		settle := func(upTo uint64, ok bool) {
			i := 0
			for ; i < len(unacked) && unacked[i].seq <= upTo; i++ {
				if ok {
					_ = unacked[i].msg.Ack()
				} else {
					_ = unacked[i].msg.Nak()
				}
			}
			unacked = unacked[i:]
		}
		closeBatch := func() {
			if batch != nil {
				_, err := batch.Close(context.Background())
				settle(math.MaxUint64, !failed.Swap(false) && err == nil)
				batch = nil
			}
		}
		for {
			var msg jetstream.Msg
			open := true
			select {
			case msg, open = <-inputs:
			default:
				closeBatch()
				msg, open = <-inputs
			}
			if !open {
				closeBatch()
				return
			}
			pub, ok := relayed(msg)
			if !ok {
				_ = msg.Term()
				continue
			}
			pub.Subject = out.subject
			if envelope {
				addEnvelope(pub, out)
			}
			if batch == nil {
				var err error
				batch, err = jetstreamext.NewFastPublisher(js,
					jetstreamext.WithFastPublisherErrorHandler(func(error) { failed.Store(true) }))
				if err != nil {
					_ = msg.Nak()
					continue
				}
			}
			ack, err := batch.AddMsg(pub)
			if err != nil || failed.Swap(false) {
				settle(math.MaxUint64, false)
				_ = msg.Nak()
				batch = nil
				continue
			}
			unacked = append(unacked, held{ack.BatchSequence, msg})
			settle(ack.AckSequence, true)
		}
	}()
	cc, err := cons.Consume(func(msg jetstream.Msg) { inputs <- msg }, jetstream.PullMaxMessages(256))
	if err != nil {
		tb.Fatal(err)
	}
	return func() { cc.Stop(); <-cc.Closed(); close(inputs); <-done; nc.Close() }
}

// startNatsfn relays with the runtime; free uses a schema that checks
// nothing.
func startNatsfn(free bool) func(tb testing.TB, srv *fntest.Server, in, out topic) func() {
	return func(tb testing.TB, srv *fntest.Server, in, out topic) func() {
		var tin, tout runtime.Topic = in, out
		if free {
			tin, tout = anyDocument{in}, anyDocument{out}
		}
		svc := runtime.NewService(runtime.ServiceConfig{Name: "bench", Version: "1.0.0"})
		runtime.OnEvent(svc, "relay", tin, func(ctx context.Context, ev event) error {
			return runtime.Emit(ctx, tout, ev)
		})
		inst := fntest.RunConfig(tb, srv.Config("bench"), svc)
		return func() { _ = inst.Stop() }
	}
}

// anyDocument is a topic whose schema accepts any document.
type anyDocument struct{ topic }

func (anyDocument) Validate([]byte) error { return nil }

// addEnvelope adds the headers runtime.Emit writes besides Nats-Msg-Id.
func addEnvelope(m *nats.Msg, t topic) {
	id := m.Header.Get(nats.MsgIdHdr)
	h := m.Header
	h["ce-id"] = []string{id}
	h["ce-type"] = []string{t.subject}
	h["ce-source"] = []string{"bench"}
	h["ce-dataschema"] = []string{t.ID()}
	h["ce-specversion"] = []string{"1.0"}
	h["ce-time"] = []string{time.Now().UTC().Format(time.RFC3339Nano)}
	h[runtime.HeaderCorrelationID] = []string{nuid.Next()}
	h["Natsfn-Causation-Id"] = []string{t.stream + ":" + strings.TrimPrefix(id, "bench:")}
}

// eventResults are events/s and CPU µs/event by design, one per round.
type eventResults struct {
	designs []eventDesign
	rates   map[string][]float64
	cpu     map[string][]float64
}

// runEventDesigns runs rounds of n events through every design, designs
// interleaved within a round, and checks that each relayed every event
// once and acked every input.
func runEventDesigns(tb testing.TB, srv *fntest.Server, designs []eventDesign, rounds, n int) eventResults {
	tb.Helper()
	js := srv.JetStream(tb)
	res := eventResults{designs: designs, rates: map[string][]float64{}, cpu: map[string][]float64{}}
	for r := range rounds {
		for i, d := range designs {
			rate, cpu := relayRound(tb, srv, js, d, fmt.Sprintf("d%dr%d", i, r), n)
			res.rates[d.name] = append(res.rates[d.name], rate)
			res.cpu[d.name] = append(res.cpu[d.name], cpu)
		}
	}
	return res
}

// relayRound fills a fresh stream with n events, starts d, waits until
// every output is stored and every input acked, and returns events/s and
// CPU µs per event; the stream is deleted afterwards.
func relayRound(tb testing.TB, srv *fntest.Server, js jetstream.JetStream, d eventDesign, name string, n int) (rate, cpu float64) {
	tb.Helper()
	ctx := context.Background()
	stream := "BENCH_" + name
	in := topic{subject: "bench." + name + ".in", stream: stream}
	out := topic{subject: "bench." + name + ".out", stream: stream}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: stream, Subjects: []string{in.subject, out.subject}, Storage: jetstream.FileStorage,
		Duplicates: 2 * time.Minute, AllowBatchPublish: true, // for the fast design
	}); err != nil {
		tb.Fatal(err)
	}
	defer func() { _ = js.DeleteStream(ctx, stream) }()
	data, _ := json.Marshal(event{ID: "e-0123456789", N: 42})
	for i := range n {
		if _, err := js.PublishAsync(in.subject, data); err != nil {
			tb.Fatal(err)
		}
		if i%1000 == 999 || i == n-1 {
			select {
			case <-js.PublishAsyncComplete():
			case <-time.After(time.Minute):
				tb.Fatal("input events not stored")
			}
		}
	}
	st, err := js.Stream(ctx, stream)
	if err != nil {
		tb.Fatal(err)
	}
	t0 := time.Now()
	stop := d.start(tb, srv, in, out)
	defer stop()
	deadline := t0.Add(time.Duration(n)*time.Millisecond + time.Minute)
	// CPU is counted from the first poll that sees an output, so that no
	// design's start counts.
	var seen uint64
	var cpu0 time.Duration
	for {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not every event relayed and acked in time", d.name)
		}
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(out.subject))
		if err != nil {
			tb.Fatal(err)
		}
		got := info.State.Subjects[out.subject]
		if got > uint64(n) {
			tb.Fatalf("%s: %d events relayed, want %d", d.name, got, n)
		}
		if seen == 0 && got > 0 {
			seen, cpu0 = got, cpuTime()
		}
		if got == uint64(n) && allAcked(ctx, tb, st, n) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if left := uint64(n) - seen; left > 0 {
		cpu = float64((cpuTime() - cpu0).Microseconds()) / float64(left)
	}
	// The rate is timed by the stream, from the first output stored to the
	// last, so that no design's start (a runtime instance connects,
	// creates its dead-letter stream...) counts.
	first, err := st.GetMsg(ctx, 1, jetstream.WithGetMsgSubject(out.subject))
	if err != nil {
		tb.Fatal(err)
	}
	last, err := st.GetLastMsgForSubject(ctx, out.subject)
	if err != nil {
		tb.Fatal(err)
	}
	if n < 2 || !last.Time.After(first.Time) {
		return 0, cpu
	}
	return float64(n-1) / last.Time.Sub(first.Time).Seconds(), cpu
}

// allAcked reports whether the stream's only durable consumer acked the
// first n messages.
func allAcked(ctx context.Context, tb testing.TB, st jetstream.Stream, n int) bool {
	tb.Helper()
	for name := range st.ConsumerNames(ctx).Name() {
		c, err := st.Consumer(ctx, name)
		if err != nil {
			tb.Fatal(err)
		}
		info, err := c.Info(ctx)
		if err != nil {
			tb.Fatal(err)
		}
		return info.AckFloor.Stream >= uint64(n) && info.NumAckPending == 0
	}
	return false
}

// report prints each design's rates, its ratio to the best bare design
// per round, and its ratio to the faster of the two loops that publish
// natsfn's envelope in that round, and reports the medians as benchmark
// metrics.
func (res eventResults) report(b *testing.B) {
	best := ""
	for _, d := range res.designs {
		if d.bare && (best == "" || median(res.rates[d.name]) > median(res.rates[best])) {
			best = d.name
		}
	}
	enveloped := slices.Clone(res.rates["async+envelope"])
	for i, r := range res.rates["fast+envelope"] {
		enveloped[i] = max(enveloped[i], r)
	}
	b.Logf("%d rounds of %d events; ratio = events/s over the best bare design's (%s) in the same round; "+
		"/envelope: over the faster of async+envelope and fast+envelope", len(res.rates[best]), b.N, best)
	b.Logf("%-14s %24s %20s %20s %20s", "design", "events/s (min-max)", "/best (min-max)", "/envelope", "CPU µs/event")
	for _, d := range res.designs {
		rates, cpu := res.rates[d.name], res.cpu[d.name]
		r, re := ratios(rates, res.rates[best]), ratios(rates, enveloped)
		b.Logf("%-14s %6.0f (%.0f-%.0f) %8.2f (%.2f-%.2f) %8.2f (%.2f-%.2f) %8.1f (%.1f-%.1f)", d.name,
			median(rates), slices.Min(rates), slices.Max(rates), median(r), slices.Min(r), slices.Max(r),
			median(re), slices.Min(re), slices.Max(re), median(cpu), slices.Min(cpu), slices.Max(cpu))
		b.ReportMetric(median(rates), d.name+"-events/s")
		b.ReportMetric(median(r), d.name+"/best")
		b.ReportMetric(median(re), d.name+"/envelope")
	}
}

// median returns the median of xs.
func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// benchRounds is def, or 1 for the probe run go test makes with b.N = 1.
func benchRounds(b *testing.B, def int) int {
	if b.N == 1 {
		return 1
	}
	return def
}
