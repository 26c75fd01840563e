package runtime_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// BenchmarkEndpoint compares a runtime endpoint with a bare micro endpoint
// doing the same JSON echo, at 1, 16 and 64 requests in flight, in one
// process and in interleaved rounds (7, each of b.N/7 requests per
// design), so that a noisy neighbour slows all designs alike. The runtime
// endpoint runs with its defaults (one request at a time), and again with
// Concurrency(64), the choice for handlers that wait on I/O. It reports
// each design's median req/s and its per-round ratio to bare micro
// (median, and min-max in the log); the target for Concurrency(64) is >=
// 0.90 at 16 and 64 in flight.
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
	designs := []struct{ name, subject string }{
		{"micro", "bare.echo"}, {"natsfn", "rt.echo"}, {"natsfn-pool64", "rt.echo64"},
	}
	for _, inflight := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("inflight=%d", inflight), func(b *testing.B) {
			rounds := benchRounds(b, 7)
			n := max(b.N/rounds, 1)
			rates, cpu := map[string][]float64{}, map[string][]float64{}
			for range rounds {
				for _, d := range designs {
					cpu0 := cpuTime()
					rates[d.name] = append(rates[d.name], float64(n)/requestTime(b, client, d.subject, inflight, n).Seconds())
					cpu[d.name] = append(cpu[d.name], float64((cpuTime()-cpu0).Nanoseconds())/1e3/float64(n))
				}
			}
			if b.N == 1 {
				return
			}
			b.Logf("%d rounds of %d requests, %d in flight; ratio = req/s over micro's in the same round; CPU = the process's µs per request", rounds, n, inflight)
			for _, d := range designs {
				r := ratios(rates[d.name], rates["micro"])
				c := ratios(cpu["micro"], cpu[d.name])
				b.Logf("%-14s %8.0f req/s (%.0f-%.0f)  ratio %.2f (%.2f-%.2f)  CPU %.1f, micro's/this %.2f (%.2f-%.2f)", d.name,
					median(rates[d.name]), slices.Min(rates[d.name]), slices.Max(rates[d.name]),
					median(r), slices.Min(r), slices.Max(r), median(cpu[d.name]), median(c), slices.Min(c), slices.Max(c))
				b.ReportMetric(median(rates[d.name]), d.name+"-req/s")
				if d.name != "micro" {
					b.ReportMetric(median(r), d.name+"/micro")
				}
			}
		})
	}
}

// ratios divides xs by base, round by round.
func ratios(xs, base []float64) []float64 {
	r := make([]float64, len(xs))
	for i := range xs {
		r[i] = xs[i] / base[i]
	}
	return r
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
