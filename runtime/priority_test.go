package runtime_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// The priority tests run one handler, crew's "take" on work.queued,
// in several instances; each instance counts what it handled.
var workQueued = topic{subject: "work.queued", stream: "WORK"}

const takeConsumer = "crew-take"

func workStream() jetstream.StreamConfig {
	return jetstream.StreamConfig{Name: "WORK", Subjects: []string{workQueued.subject, "work.other"},
		Duplicates: time.Minute}
}

// crewMember is one instance of crew.
type crewMember struct {
	inst    *runtime.Instance
	handled atomic.Int64
	conn    atomic.Pointer[nats.Conn]
}

// startCrew starts an instance of crew named id, with cfg's role settings
// (MinPending, Priority) and the handler's options.
func startCrew(t *testing.T, srv *fntest.Server, id string, role runtime.Config, opts ...runtime.EventOption) *crewMember {
	t.Helper()
	m := &crewMember{}
	svc := runtime.NewService(runtime.ServiceConfig{Name: "crew", Version: "1.0.0"})
	svc.Stream(workStream())
	svc.OnStart(func(_ context.Context, d runtime.Deps) error {
		m.conn.Store(d.Conn)
		return nil
	})
	runtime.OnEvent(svc, "take", workQueued, func(context.Context, event) error {
		m.handled.Add(1)
		return nil
	}, opts...)
	cfg := srv.Config(id)
	cfg.MinPending, cfg.Priority = role.MinPending, role.Priority
	m.inst = fntest.RunConfig(t, cfg, svc)
	return m
}

// publishWork publishes n events on work.queued.
func publishWork(t *testing.T, js jetstream.JetStream, n int) {
	t.Helper()
	for range n {
		publish(t, js, workQueued, event{ID: "w"})
	}
}

// takeInfo is the info of crew's consumer.
func takeInfo(t *testing.T, js jetstream.JetStream) *jetstream.ConsumerInfo {
	t.Helper()
	cons, err := js.Consumer(context.Background(), "WORK", takeConsumer)
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// TestOverflowHelpsOnlyAboveMinPending: an instance with
// NATSFN_MIN_PENDING=10 takes nothing while fewer than 10 events wait,
// takes events while 10 or more do (until 9 are left), and an ordinary
// instance takes the rest.
func TestOverflowHelpsOnlyAboveMinPending(t *testing.T) {
	srv := fntest.NewServer(t)
	js := srv.JetStream(t)
	standby := startCrew(t, srv, "standby", runtime.Config{MinPending: 10}, runtime.Overflow())
	info := takeInfo(t, js)
	if info.Config.PriorityPolicy != jetstream.PriorityPolicyOverflow || len(info.Config.PriorityGroups) != 1 {
		t.Fatalf("consumer policy %v groups %v, want overflow with one group", info.Config.PriorityPolicy, info.Config.PriorityGroups)
	}

	publishWork(t, js, 9)
	fntest.Eventually(t, 20*time.Second, "the standby's pull waiting with 9 pending", func() bool {
		info := takeInfo(t, js)
		return info.NumWaiting >= 1 && info.NumPending == 9
	})
	// Nothing to wait for but time: the server holds the pull back.
	time.Sleep(500 * time.Millisecond)
	if n := standby.handled.Load(); n != 0 {
		t.Fatalf("the standby took %d events with 9 waiting, want none below 10", n)
	}

	publishWork(t, js, 6) // 15 waiting: the standby takes them down to 9
	fntest.Eventually(t, 20*time.Second, "the standby takes 6", func() bool { return standby.handled.Load() == 6 })
	fntest.Eventually(t, 20*time.Second, "9 left, none in flight", func() bool {
		info := takeInfo(t, js)
		return info.NumPending == 9 && info.NumAckPending == 0
	})
	if n := standby.handled.Load(); n != 6 {
		t.Fatalf("the standby took %d, want 6 (15 down to 9)", n)
	}

	worker := startCrew(t, srv, "worker", runtime.Config{}, runtime.Overflow())
	fntest.Eventually(t, 20*time.Second, "the worker takes the 9 left", func() bool { return worker.handled.Load() == 9 })
	if n := standby.handled.Load(); n != 6 {
		t.Fatalf("the standby took %d in all, want 6", n)
	}
}

// TestPinnedFailoverWithinTTL: of two instances one is pinned and gets
// every event; when it dies without a word (its connection closed), the
// other one gets the next events within the pinned TTL.
func TestPinnedFailoverWithinTTL(t *testing.T) {
	const ttl = 2 * time.Second
	srv := fntest.NewServer(t)
	js := srv.JetStream(t)
	a := startCrew(t, srv, "a", runtime.Config{}, runtime.Pinned(ttl))
	b := startCrew(t, srv, "b", runtime.Config{}, runtime.Pinned(ttl))
	publishWork(t, js, 20)
	fntest.Eventually(t, 20*time.Second, "20 handled", func() bool { return a.handled.Load()+b.handled.Load() == 20 })
	pinned, other := pinnedFirst(a, b)
	if other.handled.Load() != 0 {
		t.Fatalf("a took %d and b %d: both got events of a pinned consumer", a.handled.Load(), b.handled.Load())
	}
	if g := takeInfo(t, js).PriorityGroups; len(g) != 1 || g[0].PinnedClientID == "" {
		t.Fatalf("priority groups %+v, want one pinned client", g)
	}

	clients := srv.NumClients()
	pinned.conn.Load().Close() // a crash: no unpin, no more pulls
	crashed := time.Now()
	// Publish only once the server has seen the connection go: an event it
	// hands the dead instance's last pull before that comes back after the
	// AckWait, not the pinned TTL, and is not what this test measures.
	fntest.Eventually(t, time.Second, "the server sees the crashed connection go", func() bool {
		return srv.NumClients() < clients
	})
	publishWork(t, js, 5)
	fntest.Eventually(t, ttl+5*time.Second, "the other instance takes over", func() bool { return other.handled.Load() == 5 })
	if took := time.Since(crashed); took > ttl+time.Second {
		t.Fatalf("failover took %s, want within the TTL of %s (and a second of slack)", took, ttl)
	}
}

// pinnedFirst returns the member that handled events (the pinned one)
// first, the other second.
func pinnedFirst(a, b *crewMember) (pinned, other *crewMember) {
	if b.handled.Load() > 0 {
		return b, a
	}
	return a, b
}

// TestPinnedHandedOverOnStop: an instance that stops gracefully unpins
// the consumer, so the other takes over at once, not after the TTL.
func TestPinnedHandedOverOnStop(t *testing.T) {
	const ttl = time.Minute
	srv := fntest.NewServer(t)
	js := srv.JetStream(t)
	a := startCrew(t, srv, "a", runtime.Config{}, runtime.Pinned(ttl))
	b := startCrew(t, srv, "b", runtime.Config{}, runtime.Pinned(ttl))
	publishWork(t, js, 3)
	fntest.Eventually(t, 20*time.Second, "3 handled", func() bool { return a.handled.Load()+b.handled.Load() == 3 })
	pinned, other := pinnedFirst(a, b)
	if err := pinned.inst.Stop(); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	publishWork(t, js, 3)
	fntest.Eventually(t, 10*time.Second, "the other instance takes over", func() bool { return other.handled.Load() == 3 })
	if took := time.Since(stopped); took > 5*time.Second {
		t.Fatalf("hand-over took %s, want far less than the TTL of %s", took, ttl)
	}
}

// TestPrioritizedPrefersLowerPriority: events go to the instance with
// NATSFN_PRIORITY=0 while it pulls, and to the one with 1 once it is gone.
func TestPrioritizedPrefersLowerPriority(t *testing.T) {
	srv := fntest.NewServer(t)
	js := srv.JetStream(t)
	second := startCrew(t, srv, "second", runtime.Config{Priority: 1}, runtime.Prioritized())
	first := startCrew(t, srv, "first", runtime.Config{Priority: 0}, runtime.Prioritized())
	fntest.Eventually(t, 20*time.Second, "both pulls waiting", func() bool { return takeInfo(t, js).NumWaiting >= 2 })
	publishWork(t, js, 20)
	fntest.Eventually(t, 20*time.Second, "20 handled", func() bool { return first.handled.Load()+second.handled.Load() == 20 })
	if n := second.handled.Load(); n != 0 {
		t.Fatalf("priority 1 took %d of 20 while priority 0 pulled, want none", n)
	}
	if err := first.inst.Stop(); err != nil {
		t.Fatal(err)
	}
	publishWork(t, js, 5)
	fntest.Eventually(t, 20*time.Second, "priority 1 takes over", func() bool { return second.handled.Load() == 5 })
}

// TestBindUsesTheConsumerAsItIs: a bound handler consumes through the
// operator's consumer without changing it, and dead-letters after the
// consumer's MaxDeliver (2), not the handler's default (5). A consumer
// deleted while it runs is not made again.
func TestBindUsesTheConsumerAsItIs(t *testing.T) {
	srv := fntest.NewServer(t)
	js := srv.JetStream(t)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, workStream()); err != nil {
		t.Fatal(err)
	}
	made := jetstream.ConsumerConfig{Durable: takeConsumer, Description: "made by the operator",
		FilterSubject: workQueued.subject, AckPolicy: jetstream.AckExplicitPolicy, AckWait: 5 * time.Second,
		MaxDeliver: 2, MaxAckPending: 10}
	if _, err := js.CreateConsumer(ctx, "WORK", made); err != nil {
		t.Fatal(err)
	}
	var failed atomic.Int64
	svc := runtime.NewService(runtime.ServiceConfig{Name: "crew", Version: "1.0.0"})
	runtime.OnEvent(svc, "take", workQueued, func(_ context.Context, ev event) error {
		if ev.ID == "bad" {
			failed.Add(1)
			return errors.New("the store is down")
		}
		return nil
	}, runtime.Bind(), runtime.BackOff(50*time.Millisecond))
	fntest.Run(t, srv, svc)

	publish(t, js, workQueued, event{ID: "good"})
	publish(t, js, workQueued, event{ID: "bad"})
	nc := srv.Connect(t)
	fntest.Eventually(t, 10*time.Second, "the bad event dead-lettered", func() bool {
		reply, err := nc.Request("crew.dlq.list", nil, time.Second)
		return err == nil && strings.Contains(string(reply.Data), `"deliveries":2`)
	})
	if n := failed.Load(); n != 2 {
		t.Fatalf("the bad event ran %d times, want the consumer's MaxDeliver 2", n)
	}
	info := takeInfo(t, js)
	if info.Config.Description != made.Description || info.Config.AckWait != made.AckWait ||
		info.Config.MaxDeliver != made.MaxDeliver || info.Config.MaxAckPending != made.MaxAckPending {
		t.Fatalf("the runtime changed the operator's consumer: %+v", info.Config)
	}

	if err := js.DeleteConsumer(ctx, "WORK", takeConsumer); err != nil {
		t.Fatal(err)
	}
	// The instance notices at once (the server ends its pull) and retries
	// a lookup after 250 ms, 500 ms, 1 s...: none may create it.
	time.Sleep(2 * time.Second)
	if _, err := js.Consumer(ctx, "WORK", takeConsumer); !errors.Is(err, jetstream.ErrConsumerNotFound) {
		t.Fatalf("after the operator deleted the consumer: %v, want it still absent", err)
	}
}

// TestBindRefusesAMissingOrWrongConsumer: Start fails, naming the
// consumer and what is wrong, when the consumer is missing, filters
// another subject, or delivers the whole stream.
func TestBindRefusesAMissingOrWrongConsumer(t *testing.T) {
	srv := fntest.NewServer(t)
	js := srv.JetStream(t)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, workStream()); err != nil {
		t.Fatal(err)
	}
	start := func() error {
		svc := runtime.NewService(runtime.ServiceConfig{Name: "crew", Version: "1.0.0"})
		runtime.OnEvent(svc, "take", workQueued, func(context.Context, event) error { return nil }, runtime.Bind())
		inst, err := runtime.Start(ctx, srv.Config("bind"), svc)
		if err == nil {
			_ = inst.Stop()
		}
		return err
	}
	err := start()
	if !errors.Is(err, runtime.ErrConfigValidation) || !errors.Is(err, jetstream.ErrConsumerNotFound) ||
		!strings.Contains(err.Error(), "consumer crew-take does not exist on stream WORK") {
		t.Fatalf("Start with no consumer: %v, want a config error naming crew-take on WORK", err)
	}
	for _, c := range []struct {
		name    string
		filters []string
		want    string
	}{
		{"another subject", []string{"work.other"}, "filters work.other; the handler takes work.queued only"},
		{"a wider filter", []string{"work.>"}, "filters work.>; the handler takes work.queued only"},
		{"two subjects", []string{"work.queued", "work.other"}, "filters work.queued, work.other"},
		{"no filter", nil, "has no filter subject"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := jetstream.ConsumerConfig{Durable: takeConsumer, AckPolicy: jetstream.AckExplicitPolicy, FilterSubjects: c.filters}
			if _, err := js.CreateOrUpdateConsumer(ctx, "WORK", cfg); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = js.DeleteConsumer(ctx, "WORK", takeConsumer) })
			err := start()
			if !errors.Is(err, runtime.ErrConfigValidation) || !strings.Contains(err.Error(), c.want) ||
				!strings.Contains(err.Error(), "consumer crew-take on stream WORK") {
				t.Fatalf("Start: %v, want a config error saying %q", err, c.want)
			}
		})
	}
}

// TestPriorityDeclarationsAndRoles: options that cannot go together, and
// an instance role no handler uses, are configuration errors naming what
// is wrong; a bad NATSFN_MIN_PENDING or NATSFN_PRIORITY names itself.
func TestPriorityDeclarationsAndRoles(t *testing.T) {
	srv := fntest.NewServer(t)
	for _, c := range []struct {
		name string
		opts []runtime.EventOption
		role runtime.Config
		want string
	}{
		{"two policies", []runtime.EventOption{runtime.Overflow(), runtime.Pinned(time.Minute)}, runtime.Config{}, "more than one of"},
		{"bind and a policy", []runtime.EventOption{runtime.Bind(), runtime.Prioritized()}, runtime.Config{}, "Bind takes the consumer's own"},
		{"short pin", []runtime.EventOption{runtime.Pinned(time.Second)}, runtime.Config{}, "at least 2s"},
		{"min pending unused", nil, runtime.Config{MinPending: 5}, "NATSFN_MIN_PENDING: 5 is set, but no event handler is declared runtime.Overflow()"},
		{"priority unused", []runtime.EventOption{runtime.Overflow()}, runtime.Config{Priority: 2}, "NATSFN_PRIORITY: 2 is set"},
		{"min pending negative", nil, runtime.Config{MinPending: -1}, "NATSFN_MIN_PENDING: -1 is negative"},
		{"priority out of range", nil, runtime.Config{Priority: 10}, "NATSFN_PRIORITY: 10 is not between 0 and 9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			svc := runtime.NewService(runtime.ServiceConfig{Name: "crew", Version: "1.0.0"})
			svc.Stream(workStream())
			runtime.OnEvent(svc, "take", workQueued, func(context.Context, event) error { return nil }, c.opts...)
			cfg := srv.Config("roles")
			cfg.MinPending, cfg.Priority = c.role.MinPending, c.role.Priority
			inst, err := runtime.Start(context.Background(), cfg, svc)
			if err == nil {
				_ = inst.Stop()
			}
			if !errors.Is(err, runtime.ErrConfigValidation) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Start: %v, want a config error containing %q", err, c.want)
			}
		})
	}
	for key, value := range map[string]string{"NATSFN_MIN_PENDING": "many", "NATSFN_PRIORITY": "high"} {
		t.Run(key, func(t *testing.T) {
			t.Setenv(key, value)
			if _, err := runtime.LoadConfig(); !errors.Is(err, runtime.ErrConfigValidation) || !strings.Contains(err.Error(), key) {
				t.Fatalf("%s=%s: %v, want an error naming the variable", key, value, err)
			}
		})
	}
}
