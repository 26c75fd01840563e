package runtime_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// BenchmarkDrainAfterPause measures how fast an event handler drains a
// backlog of b.N events (make bench: 20000) right after its consumer was
// paused with runtime.Pause, the payments breaker's path: the first event
// pauses the consumer, and the pause ends by itself, or (resumed) early
// through ResumeConsumer, as `nats consumer resume` does. It reports
// events/s from the end of the pause to the last ack, beside the same
// backlog drained without a pause.
func BenchmarkDrainAfterPause(b *testing.B) {
	if b.N == 1 {
		return
	}
	cases := []struct {
		name   string
		pause  time.Duration
		resume bool
	}{
		{"no-pause", 0, false},
		{"pause-5s", 5 * time.Second, false},
		{"pause-20s", 20 * time.Second, false},
		{"pause-5s-resumed", 5 * time.Second, true},
		{"pause-20s-resumed", 20 * time.Second, true},
	}
	rounds := benchRounds(b, 3)
	rates := map[string][]float64{}
	for range rounds {
		for _, c := range cases {
			rates[c.name] = append(rates[c.name], drainAfterPause(b, c.pause, c.resume, b.N))
		}
	}
	b.Logf("%d rounds of a %d-event backlog; ratio = events/s over no-pause's in the same round", rounds, b.N)
	for _, c := range cases {
		r := ratios(rates[c.name], rates["no-pause"])
		b.Logf("%-18s %8.0f events/s (%.0f-%.0f)  ratio %.2f (%.2f-%.2f)", c.name,
			median(rates[c.name]), slices.Min(rates[c.name]), slices.Max(rates[c.name]),
			median(r), slices.Min(r), slices.Max(r))
		b.ReportMetric(median(rates[c.name]), c.name+"-events/s")
	}
}

// drainAfterPause runs one drain and returns its events/s. With resume,
// the handler pauses for an hour and the test resumes the consumer with
// ResumeConsumer after pause.
func drainAfterPause(tb testing.TB, pause time.Duration, resume bool, n int) float64 {
	tb.Helper()
	srv := fntest.NewServer(tb)
	js := srv.JetStream(tb)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "JOBS", Subjects: []string{jobsIn.subject}}); err != nil {
		tb.Fatal(err)
	}
	data, _ := json.Marshal(event{ID: "e"})
	for i := range n {
		if _, err := js.PublishAsync(jobsIn.subject, data); err != nil {
			tb.Fatal(err)
		}
		if i%1000 == 999 || i == n-1 {
			<-js.PublishAsyncComplete()
		}
	}
	var paused atomic.Bool
	var resumeAt, firstAt atomic.Int64
	svc := runtime.NewService(runtime.ServiceConfig{Name: "drain", Version: "1.0.0"})
	runtime.OnEvent(svc, "work", jobsIn, func(ctx context.Context, in event) error {
		firstAt.CompareAndSwap(0, time.Now().UnixNano())
		if pause > 0 && paused.CompareAndSwap(false, true) {
			until := time.Now().Add(pause)
			resumeAt.Store(until.UnixNano())
			d := pause
			if resume {
				d = time.Hour
			}
			// Acked, not retried: a nak's redelivery timer would wake the
			// consumer when the pause ends and hide what a resume does.
			return runtime.Pause(ctx, d)
		}
		return nil
	})
	inst := fntest.RunConfig(tb, srv.Config("drain"), svc)
	defer func() { _ = inst.Stop() }()
	fntest.Eventually(tb, 10*time.Second, "the first event", func() bool { return firstAt.Load() != 0 })
	start := time.Unix(0, firstAt.Load())
	if pause > 0 {
		fntest.Eventually(tb, 10*time.Second, "the pause", func() bool { return resumeAt.Load() != 0 })
		start = time.Unix(0, resumeAt.Load())
		if resume {
			time.Sleep(time.Until(start))
			if _, err := js.ResumeConsumer(ctx, "JOBS", "drain-work"); err != nil {
				tb.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(pause + 10*time.Minute)
	for {
		floor, pending := consumerFloor(tb, js, "JOBS", "drain-work")
		if floor == uint64(n) && pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("pause %s: %d of %d acked", pause, floor, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return float64(n) / time.Since(start).Seconds()
}

// consumerFloor returns a consumer's ack floor and messages awaiting an ack.
func consumerFloor(tb testing.TB, js jetstream.JetStream, stream, name string) (uint64, int) {
	tb.Helper()
	c, err := js.Consumer(context.Background(), stream, name)
	if err != nil {
		return 0, 0
	}
	info, err := c.Info(context.Background())
	if err != nil {
		return 0, 0
	}
	return info.AckFloor.Stream, info.NumAckPending
}
