package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// BenchmarkEndpoint compares a runtime endpoint with a bare micro endpoint
// doing the same JSON echo, at 1, 16 and 64 requests in flight. Each sub-run
// measures both in the same process and reports req/s for each and their
// ratio (runtime/bare; the target is >= 0.90 at 64 in flight). The runtime
// endpoint has its defaults (one request at a time, like micro);
// pool64-ratio is the same endpoint with Concurrency(64), the choice for
// handlers that wait on I/O, which pays a goroutine hand-off per request.
func BenchmarkEndpoint(b *testing.B) {
	srv := fntest.NewServer(b)
	bare, err := nats.Connect(srv.ClientURL())
	if err != nil {
		b.Fatal(err)
	}
	defer bare.Close()
	_, err = micro.AddService(bare, micro.Config{Name: "bare", Version: "1.0.0", Endpoint: &micro.EndpointConfig{
		Subject: "bare.echo",
		Handler: micro.HandlerFunc(func(r micro.Request) {
			var in echoIn
			if err := json.Unmarshal(r.Data(), &in); err != nil {
				_ = r.Error("400", err.Error(), nil)
				return
			}
			_ = r.RespondJSON(echoOut{Echo: in.Msg})
		}),
	}})
	if err != nil {
		b.Fatal(err)
	}
	svc := runtime.NewService(runtime.ServiceConfig{Name: "rt", Version: "1.0.0"})
	runtime.Endpoint(svc, "echo", func(ctx context.Context, in echoIn) (echoOut, error) {
		return echoOut{Echo: in.Msg}, nil
	})
	runtime.Endpoint(svc, "echo64", func(ctx context.Context, in echoIn) (echoOut, error) {
		return echoOut{Echo: in.Msg}, nil
	}, runtime.Concurrency(64))
	fntest.Run(b, srv, svc)
	client := srv.Connect(b)
	for _, inflight := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			// Rounds alternate between the designs so that a noisy
			// neighbour slows all of them alike.
			var bare, inline, pool time.Duration
			const rounds = 5
			n := max(b.N/rounds, 1)
			for range rounds {
				bare += requestTime(b, client, "bare.echo", inflight, n)
				inline += requestTime(b, client, "rt.echo", inflight, n)
				pool += requestTime(b, client, "rt.echo64", inflight, n)
			}
			total := float64(n * rounds)
			b.ReportMetric(total/bare.Seconds(), "bare-req/s")
			b.ReportMetric(total/inline.Seconds(), "runtime-req/s")
			b.ReportMetric(bare.Seconds()/inline.Seconds(), "ratio")
			b.ReportMetric(bare.Seconds()/pool.Seconds(), "pool64-ratio")
		})
	}
}

// requestTime sends n requests with inflight callers and returns the time.
func requestTime(b *testing.B, nc *nats.Conn, subject string, inflight, n int) time.Duration {
	b.Helper()
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	body := []byte(`{"msg":"hello benchmark"}`)
	start := time.Now()
	for range inflight {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				m, err := nc.Request(subject, body, 5*time.Second)
				if err != nil || m.Header.Get(micro.ErrorCodeHeader) != "" {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if failed.Load() > 0 {
		b.Fatalf("%s: %d requests failed", subject, failed.Load())
	}
	return time.Since(start)
}

// BenchmarkEvent compares a runtime event handler (consume → handler → emit
// → ack) with a hand-written jetstream Consume loop doing the same: decode,
// publish with a Msg-Id and wait for the PubAck, ack. It reports events/s for
// each and their ratio (target >= 0.85).
func BenchmarkEvent(b *testing.B) {
	srv := fntest.NewServer(b)
	js := srv.JetStream(b)
	ctx := context.Background()

	bareRate := eventRate(b, js, "BARE", b.N, func(in, out topic) func() {
		nc, err := nats.Connect(srv.ClientURL())
		if err != nil {
			b.Fatal(err)
		}
		bjs, _ := jetstream.New(nc)
		cons, err := bjs.CreateOrUpdateConsumer(ctx, in.stream, jetstream.ConsumerConfig{
			Durable: "bare", FilterSubject: in.subject, AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 256,
		})
		if err != nil {
			b.Fatal(err)
		}
		cc, err := cons.Consume(func(msg jetstream.Msg) {
			var ev event
			if err := json.Unmarshal(msg.Data(), &ev); err != nil {
				_ = msg.Term()
				return
			}
			data, _ := json.Marshal(ev)
			md, _ := msg.Metadata()
			if _, err := bjs.Publish(ctx, out.subject, data, jetstream.WithMsgID(fmt.Sprint(md.Sequence.Stream))); err != nil {
				_ = msg.Nak()
				return
			}
			_ = msg.Ack()
		})
		if err != nil {
			b.Fatal(err)
		}
		return func() { cc.Stop(); nc.Close() }
	})

	rtRate := eventRate(b, js, "RT", b.N, func(in, out topic) func() {
		svc := runtime.NewService(runtime.ServiceConfig{Name: "bench", Version: "1.0.0"})
		runtime.OnEvent(svc, "relay", in, func(ctx context.Context, ev event) error {
			return runtime.Emit(ctx, out, ev)
		})
		inst := fntest.Run(b, srv, svc)
		return func() { _ = inst.Stop() }
	})
	b.ReportMetric(bareRate, "bare-events/s")
	b.ReportMetric(rtRate, "runtime-events/s")
	b.ReportMetric(rtRate/bareRate, "ratio")
}

// eventRate publishes n events into a fresh stream, starts a relay, and
// returns events/s from start until n relayed events are stored.
func eventRate(b *testing.B, js jetstream.JetStream, name string, n int, start func(in, out topic) func()) float64 {
	b.Helper()
	ctx := context.Background()
	in := topic{subject: "bench." + name + ".in", stream: "BENCH_" + name + fmt.Sprint(n)}
	out := topic{subject: "bench." + name + ".out", stream: in.stream}
	_ = js.DeleteStream(ctx, in.stream)
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: in.stream, Subjects: []string{in.subject, out.subject}})
	if err != nil {
		b.Fatal(err)
	}
	data, _ := json.Marshal(event{ID: "e"})
	futures := make([]jetstream.PubAckFuture, 0, n)
	for range n {
		f, err := js.PublishAsync(in.subject, data)
		if err != nil {
			b.Fatal(err)
		}
		futures = append(futures, f)
	}
	<-js.PublishAsyncComplete()
	b.ResetTimer()
	t0 := time.Now()
	stop := start(in, out)
	defer stop()
	for {
		info, err := st.Info(ctx, jetstream.WithSubjectFilter(out.subject))
		if err != nil {
			b.Fatal(err)
		}
		if info.State.Subjects[out.subject] >= uint64(n) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	return float64(n) / time.Since(t0).Seconds()
}
