package runtime_test

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestConsumerRebindsAfterPartition: an instance whose connection goes
// silent (a partition: the TCP connection stays up, nothing crosses it)
// misses the consumer's heartbeats and rebinds; the server stays out of
// reach for longer than one rebind attempt, and once the partition heals
// the instance binds again by itself and handles new events.
func TestConsumerRebindsAfterPartition(t *testing.T) {
	// AckWait 2s: pulls expire after 1s, with a heartbeat every 0.5s.
	srv, proxy, handled, logs := behindFreezer(t, "cut", runtime.AckWait(2*time.Second))
	js := srv.JetStream(t)
	isHandled := func(id string) func() bool {
		return func() bool { _, ok := handled.Load(id); return ok }
	}

	publish(t, js, jobsIn, event{ID: "before"})
	fntest.Eventually(t, 20*time.Second, "the event before the partition handled", isHandled("before"))

	proxy.freeze()
	fntest.Eventually(t, 20*time.Second, "a rebind attempt failed during the partition", func() bool {
		return strings.Contains(logs.String(), "rebind consumer failed")
	})
	publish(t, js, jobsIn, event{ID: "during"})
	time.Sleep(500 * time.Millisecond)
	if _, ok := handled.Load("during"); ok {
		t.Fatal("an event was handled through a frozen connection: the partition is not one")
	}
	proxy.thaw()

	publish(t, js, jobsIn, event{ID: "after"})
	fntest.Eventually(t, 20*time.Second, "the events during and after the partition handled", func() bool {
		return isHandled("during")() && isHandled("after")()
	})
	if !strings.Contains(logs.String(), "consumer bound again") {
		t.Errorf("no \"consumer bound again\" in the logs:\n%s", logs.String())
	}
}

// TestSilentPullNoticedWithinTwoHeartbeats: with the default AckWait (a
// 15 s pull), an instance notices that its pull went silent (the
// consumer's leader died with it, or the network did) within two of the
// runtime's 2 s heartbeats, not two of nats.go's default, half the expiry:
// 7.5 s, noticed 7.5 to 15 s after the silence began.
func TestSilentPullNoticedWithinTwoHeartbeats(t *testing.T) {
	proxy, logs, frozen := silencedAfterAnEvent(t, "silent")
	fntest.Eventually(t, 7*time.Second, "a missed heartbeat noticed within 7 s of the silence", func() bool {
		return strings.Contains(logs.String(), "no heartbeat received")
	})
	t.Logf("missed heartbeat noticed %v after the silence began", time.Since(frozen).Round(100*time.Millisecond))
	proxy.thaw()
}

// TestSilentServerLeft: an instance whose server stops answering (the
// connection stays up, nothing comes back: a paused server, a frozen host)
// counts the connection stale after two PINGs without a PONG, within 9 s,
// and goes on to reconnect; with 10 s x 3 that took 30 to 40 s.
func TestSilentServerLeft(t *testing.T) {
	proxy, logs, frozen := silencedAfterAnEvent(t, "stale")
	fntest.Eventually(t, 12*time.Second, "the silent server left within 12 s", func() bool {
		return strings.Contains(logs.String(), "stale connection")
	})
	t.Logf("the silent server left %v after the silence began", time.Since(frozen).Round(100*time.Millisecond))
	proxy.thaw()
	fntest.Eventually(t, 20*time.Second, "reconnected once the server answers again", func() bool {
		return strings.Contains(logs.String(), "reconnected to NATS")
	})
}

// silencedAfterAnEvent runs behindFreezer's instance, waits until it
// handled an event, then freezes its connection, and returns the proxy,
// the instance's logs and when the silence began.
func silencedAfterAnEvent(t *testing.T, name string) (*freezer, *fntest.Buffer, time.Time) {
	t.Helper()
	srv, proxy, handled, logs := behindFreezer(t, name)
	publish(t, srv.JetStream(t), jobsIn, event{ID: "before"})
	fntest.Eventually(t, 20*time.Second, "the event before the silence handled", func() bool {
		_, ok := handled.Load("before")
		return ok
	})
	proxy.freeze()
	return proxy, logs, time.Now()
}

// behindFreezer runs one instance of a service whose event handler records
// the ids it handled, connected to a fresh server through a freezer, and
// returns the server, the proxy, the ids and the instance's logs.
func behindFreezer(t *testing.T, name string, opts ...runtime.EventOption) (*fntest.Server, *freezer, *sync.Map, *fntest.Buffer) {
	t.Helper()
	srv := fntest.NewServer(t)
	proxy := newFreezer(t, strings.TrimPrefix(srv.ClientURL(), "nats://"))
	handled := &sync.Map{}
	svc := runtime.NewService(runtime.ServiceConfig{Name: name, Version: "1.0.0"})
	jobsStream(svc)
	runtime.OnEvent(svc, "work", jobsIn, func(ctx context.Context, in event) error {
		handled.Store(in.ID, true)
		return nil
	}, opts...)
	logs := &fntest.Buffer{}
	cfg := srv.Config(name)
	cfg.NATSURL = "nats://" + proxy.addr()
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	fntest.RunConfig(t, cfg, svc)
	return srv, proxy, handled, logs
}

// freezer is a loopback TCP proxy that can go silent without closing a
// connection, as a network partition does: bytes read while frozen are
// held and delivered on thaw, as TCP retransmission would.
type freezer struct {
	ln     net.Listener
	mu     sync.Mutex
	cond   *sync.Cond
	frozen bool
	// delay holds every read that long before it is written on, as a
	// slower network would (newDelayer).
	delay time.Duration
}

func newFreezer(t *testing.T, target string) *freezer { return newDelayer(t, target, 0) }

// newDelayer is a freezer that also delays what crosses it by delay in
// each direction.
func newDelayer(t *testing.T, target string, delay time.Duration) *freezer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &freezer{ln: ln, delay: delay}
	f.cond = sync.NewCond(&f.mu)
	var conns sync.WaitGroup
	t.Cleanup(func() {
		f.thaw()
		_ = ln.Close()
		conns.Wait()
	})
	go func() {
		for {
			in, err := ln.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", target)
			if err != nil {
				_ = in.Close()
				continue
			}
			conns.Add(2)
			go f.pipe(&conns, in, out)
			go f.pipe(&conns, out, in)
		}
	}()
	return f
}

func (f *freezer) addr() string { return f.ln.Addr().String() }

// pipe copies src to dst, holding each read while the proxy is frozen,
// and until delay after it was read.
func (f *freezer) pipe(wg *sync.WaitGroup, dst, src net.Conn) {
	defer wg.Done()
	defer func() { _ = dst.Close(); _ = src.Close() }()
	type chunk struct {
		data []byte
		due  time.Time
		err  error
	}
	chunks := make(chan chunk, 1024)
	go func() {
		defer close(chunks)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			chunks <- chunk{buf[:n], time.Now().Add(f.delay), err}
			if err != nil {
				return
			}
		}
	}()
	for c := range chunks {
		time.Sleep(time.Until(c.due))
		f.mu.Lock()
		for f.frozen {
			f.cond.Wait()
		}
		f.mu.Unlock()
		if len(c.data) > 0 {
			if _, err := dst.Write(c.data); err != nil {
				_ = src.Close() // ends the reader
				for range chunks {
				}
				return
			}
		}
		if c.err != nil {
			return // EOF or a closed connection: close the other side too
		}
	}
}

func (f *freezer) freeze() {
	f.mu.Lock()
	f.frozen = true
	f.mu.Unlock()
}

func (f *freezer) thaw() {
	f.mu.Lock()
	f.frozen = false
	f.mu.Unlock()
	f.cond.Broadcast()
}

// slowCluster starts a three-node JetStream cluster whose nodes reach one
// another only through delayers, delay each way. A replicated consumer
// sends a delivery once a follower has it, so each takes a round trip
// between the nodes.
func slowCluster(t *testing.T, delay time.Duration) *fntest.Cluster {
	t.Helper()
	return fntest.NewCluster(t, func(route string) string { return newDelayer(t, route, delay).addr() })
}
