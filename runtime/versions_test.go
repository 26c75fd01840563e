package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// inventoryStream declares INVENTORY as contracts lists it: both majors of
// inventory.reserved.
func inventoryStream(svc *runtime.Service) {
	d, _ := contracts.LookupStream(contracts.StreamInventory)
	svc.Stream(jetstream.StreamConfig{Name: d.Name, Subjects: d.Subjects})
}

// reservedV1 is the event the test producer emits for job id.
func reservedV1(id string) contracts.InventoryReservedEvent {
	return contracts.InventoryReservedEvent{OrderID: id,
		Items:      []contracts.ReservedItem{{ProductID: "sku-1", Quantity: 2, UnitPriceCents: 1999}},
		TotalCents: 3998}
}

// producer turns each job into an inventory.reserved written for major 1,
// declaring both majors; failFirst fails each job's first delivery after
// its emit, so that the redelivery emits again.
func producer(failFirst bool) *runtime.Service {
	svc := runtime.NewService(runtime.ServiceConfig{Name: "producer", Version: "1.0.0"})
	jobsStream(svc)
	inventoryStream(svc)
	runtime.OnEvent(svc, "reserve", jobsIn, func(ctx context.Context, in event) error {
		if err := runtime.Emit(ctx, contracts.InventoryReserved, reservedV1(in.ID)); err != nil {
			return err
		}
		if failFirst && runtime.MessageFrom(ctx).Delivered == 1 {
			if err := runtime.Flush(ctx); err != nil {
				return err
			}
			return runtime.RetryAfter(10*time.Millisecond, errors.New("fail once after the emit"))
		}
		return nil
	}, runtime.Emits(contracts.InventoryReserved, contracts.InventoryReservedV2))
	return svc
}

// seen records what a consumer's handlers got.
type seen struct {
	mu  sync.Mutex
	got map[string][]string // handler -> "subject:total"
}

func (s *seen) add(handler, line string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got[handler] = append(s.got[handler], line)
}

func (s *seen) of(handler string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got[handler])
}

// consumers declares a v1 handler, a v2 handler that accepts v1, and a v1
// handler that accepts v2.
func consumers(s *seen) *runtime.Service {
	svc := runtime.NewService(runtime.ServiceConfig{Name: "consumers", Version: "1.0.0"})
	runtime.OnEvent(svc, "v1", contracts.InventoryReserved, func(ctx context.Context, in contracts.InventoryReservedEvent) error {
		s.add("v1", runtime.MessageFrom(ctx).Subject+":cents="+itoa(in.TotalCents))
		return nil
	})
	runtime.OnEvent(svc, "v2", contracts.InventoryReservedV2, func(ctx context.Context, in contracts.InventoryReservedEventV2) error {
		s.add("v2", runtime.MessageFrom(ctx).Subject+":money="+itoa(in.TotalMoney.Amount)+in.TotalMoney.Currency)
		return nil
	}, runtime.Accepts(contracts.InventoryReserved))
	runtime.OnEvent(svc, "v1-reads-v2", contracts.InventoryReserved, func(ctx context.Context, in contracts.InventoryReservedEvent) error {
		s.add("v1-reads-v2", runtime.MessageFrom(ctx).Subject+":cents="+itoa(in.TotalCents))
		return nil
	}, runtime.Accepts(contracts.InventoryReservedV2))
	return svc
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

// runPhase runs the producer at phase, and the consumers, and publishes n jobs.
func runPhase(t *testing.T, phase string, n int, failFirst bool) (*fntest.Server, *seen) {
	t.Helper()
	srv := newServer(t)
	cfg := srv.Config(t.Name())
	if phase != "" {
		cfg.Phases = map[string]string{"inventory.reserved": phase}
	}
	fntest.RunConfig(t, cfg, producer(failFirst))
	s := &seen{got: map[string][]string{}}
	fntest.Run(t, srv, consumers(s))
	js := srv.JetStream(t)
	for i := range n {
		fntest.Publish(t, js, jobsIn.subject, "job-"+itoa(int64(i)), event{ID: "order-" + itoa(int64(i))})
	}
	fntest.Settled(t, js, "JOBS", "producer-reserve")
	for _, c := range []string{"consumers-v1", "consumers-v2", "consumers-v1-reads-v2"} {
		fntest.Settled(t, js, "INVENTORY", c)
	}
	return srv, s
}

func TestPhaseDualWritesBothMajorsInOneBatchAndEachConsumerHandlesOnce(t *testing.T) {
	srv, s := runPhase(t, "dual", 3, false)
	js := srv.JetStream(t)
	v1 := fntest.Messages(t, js, "INVENTORY", contracts.SubjectInventoryReserved)
	v2 := fntest.Messages(t, js, "INVENTORY", contracts.SubjectInventoryReservedV2)
	if len(v1) != 3 || len(v2) != 3 {
		t.Fatalf("stored %d v1 and %d v2 events; want 3 and 3", len(v1), len(v2))
	}
	for i := range v1 {
		a, b := v1[i], v2[i]
		if b.Sequence != a.Sequence+1 {
			t.Errorf("pair %d at sequences %d and %d: not one batch", i, a.Sequence, b.Sequence)
		}
		if a.Header.Get(runtime.HeaderTwins) != contracts.SubjectInventoryReservedV2 || b.Header.Get(runtime.HeaderTwins) != contracts.SubjectInventoryReserved {
			t.Errorf("twins %q and %q", a.Header.Get(runtime.HeaderTwins), b.Header.Get(runtime.HeaderTwins))
		}
		idA, idB := a.Header.Get("Nats-Msg-Id"), b.Header.Get("Nats-Msg-Id")
		if idA == "" || idB == "" || idA == idB || !strings.HasSuffix(idA, ":inventory.reserved:1") || !strings.HasSuffix(idB, ":inventory.reserved.v2:1") {
			t.Errorf("Nats-Msg-Ids %q and %q: want one each, deterministic per subject", idA, idB)
		}
		if a.Header.Get("ce-dataschema") != contracts.InventoryReserved.URI() || b.Header.Get("ce-dataschema") != contracts.InventoryReservedV2.URI() {
			t.Errorf("ce-dataschema %q and %q", a.Header.Get("ce-dataschema"), b.Header.Get("ce-dataschema"))
		}
		var money contracts.InventoryReservedEventV2
		if err := json.Unmarshal(b.Data, &money); err != nil || money.TotalMoney != (contracts.Money{Amount: 3998, Currency: "EUR"}) {
			t.Errorf("v2 copy %s: %v", b.Data, err)
		}
	}
	want := map[string]string{
		"v1":          "inventory.reserved:cents=3998",
		"v2":          "inventory.reserved.v2:money=3998EUR",
		"v1-reads-v2": "inventory.reserved:cents=3998",
	}
	for h, line := range want {
		got := s.of(h)
		if len(got) != 3 || slices.ContainsFunc(got, func(g string) bool { return g != line }) {
			t.Errorf("handler %s got %q; want %q three times", h, got, line)
		}
	}
}

func TestPhaseV2PublishesOnlyMajor2AndAV1HandlerReadsItDowncast(t *testing.T) {
	srv, s := runPhase(t, "v2", 2, false)
	js := srv.JetStream(t)
	if n1, n2 := len(fntest.Messages(t, js, "INVENTORY", contracts.SubjectInventoryReserved)),
		len(fntest.Messages(t, js, "INVENTORY", contracts.SubjectInventoryReservedV2)); n1 != 0 || n2 != 2 {
		t.Fatalf("stored %d v1 and %d v2 events; want 0 and 2", n1, n2)
	}
	if got := s.of("v1"); len(got) != 0 {
		t.Errorf("the v1-only handler got %q", got)
	}
	if got := s.of("v2"); len(got) != 2 || got[0] != "inventory.reserved.v2:money=3998EUR" {
		t.Errorf("v2 handler got %q", got)
	}
	if got := s.of("v1-reads-v2"); len(got) != 2 || got[0] != "inventory.reserved.v2:cents=3998" {
		t.Errorf("v1 handler that accepts v2 got %q", got)
	}
}

func TestPhaseV1UpcastsForAV2Handler(t *testing.T) {
	srv, s := runPhase(t, "v1", 2, false)
	js := srv.JetStream(t)
	if n2 := len(fntest.Messages(t, js, "INVENTORY", contracts.SubjectInventoryReservedV2)); n2 != 0 {
		t.Fatalf("stored %d v2 events at phase v1", n2)
	}
	if got := s.of("v2"); len(got) != 2 || got[0] != "inventory.reserved:money=3998EUR" {
		t.Errorf("v2 handler got %q; want the v1 events upcast", got)
	}
	if got := s.of("v1"); len(got) != 2 {
		t.Errorf("v1 handler got %q", got)
	}
}

func TestPhaseDualRedeliveryStoresEachCopyOnce(t *testing.T) {
	srv, s := runPhase(t, "dual", 2, true)
	js := srv.JetStream(t)
	if n1, n2 := len(fntest.Messages(t, js, "INVENTORY", contracts.SubjectInventoryReserved)),
		len(fntest.Messages(t, js, "INVENTORY", contracts.SubjectInventoryReservedV2)); n1 != 2 || n2 != 2 {
		t.Fatalf("stored %d v1 and %d v2 events after redeliveries; want 2 and 2", n1, n2)
	}
	if got := s.of("v2"); len(got) != 2 {
		t.Errorf("v2 handler got %q", got)
	}
}

// A producer moved from v1 to dual while a message it had emitted was
// redelivered: the batch's v1 copy is stored already, and the v2 copy must
// still land.
func TestPhaseChangeBetweenDeliveriesStoresTheMissingCopy(t *testing.T) {
	srv := newServer(t)
	svc := func() *runtime.Service {
		svc := runtime.NewService(runtime.ServiceConfig{Name: "producer", Version: "1.0.0"})
		inventoryStream(svc)
		runtime.Endpoint(svc, "reserve", func(ctx context.Context, in event) (event, error) {
			return in, runtime.Emit(ctx, contracts.InventoryReserved, reservedV1(in.ID), runtime.MsgID("reserved:"+in.ID))
		}, runtime.Emits(contracts.InventoryReserved, contracts.InventoryReservedV2))
		return svc
	}
	v1 := srv.Config("v1")
	inst := fntest.RunConfig(t, v1, svc())
	nc := srv.Connect(t)
	fntest.Request(t, nc, "producer.reserve", []byte(`{"id":"o-1"}`))
	inst.Stop()
	dual := srv.Config("dual")
	dual.Phases = map[string]string{"inventory.reserved": "dual"}
	fntest.RunConfig(t, dual, svc())
	fntest.Request(t, nc, "producer.reserve", []byte(`{"id":"o-1"}`))
	js := srv.JetStream(t)
	a := fntest.Messages(t, js, "INVENTORY", contracts.SubjectInventoryReserved)
	b := fntest.Messages(t, js, "INVENTORY", contracts.SubjectInventoryReservedV2)
	if len(a) != 1 || len(b) != 1 {
		t.Fatalf("stored %d v1 and %d v2; want one each", len(a), len(b))
	}
	if id := b[0].Header.Get("Nats-Msg-Id"); id != "reserved:o-1:inventory.reserved.v2" {
		t.Errorf("the v2 copy's Nats-Msg-Id is %q", id)
	}
}

func TestEmitAllIsOneAtomicBatch(t *testing.T) {
	srv := newServer(t)
	svc := runtime.NewService(runtime.ServiceConfig{Name: "multi", Version: "1.0.0"})
	jobsStream(svc)
	inventoryStream(svc)
	var refused atomic.Value
	runtime.OnEvent(svc, "step", jobsIn, func(ctx context.Context, in event) error {
		err := runtime.EmitAll(ctx, runtime.Out(jobsOut, event{ID: in.ID}), runtime.Out(contracts.InventoryReserved, reservedV1(in.ID)))
		refused.Store(err.Error())
		return runtime.EmitAll(ctx, runtime.Out(jobsOut, event{ID: in.ID}), runtime.Out(topic{subject: "jobs.other", stream: "JOBS"}, event{ID: in.ID, N: 2}))
	})
	fntest.Run(t, srv, svc)
	js := srv.JetStream(t)
	fntest.Publish(t, js, jobsIn.subject, "j1", event{ID: "a"})
	fntest.Settled(t, js, "JOBS", "multi-step")
	if r, _ := refused.Load().(string); !strings.Contains(r, "one stream's") {
		t.Errorf("a batch over two streams: %q", r)
	}
	done := fntest.Messages(t, js, "JOBS", jobsOut.subject)
	other := fntest.Messages(t, js, "JOBS", "jobs.other")
	if len(done) != 1 || len(other) != 1 || other[0].Sequence != done[0].Sequence+1 {
		t.Fatalf("stored %d and %d events", len(done), len(other))
	}
	if done[0].Header.Get(runtime.HeaderTwins) != "" {
		t.Errorf("two events of one step are no twins")
	}
}

func TestPhasesConfiguration(t *testing.T) {
	t.Setenv("NATSFN_PHASES", "inventory.reserved=dul")
	_, err := runtime.LoadConfig()
	if err == nil || !strings.Contains(err.Error(), "NATSFN_PHASES") || !strings.Contains(err.Error(), `"dul"`) {
		t.Errorf("a bad phase: %v", err)
	}
	t.Setenv("NATSFN_PHASES", "inventory.reserved=v2, payments.completed=dual")
	cfg, err := runtime.LoadConfig()
	if err != nil || cfg.Phases["payments.completed"] != "dual" {
		t.Errorf("good phases: %v %v", cfg.Phases, err)
	}

	srv := newServer(t)
	svc := runtime.NewService(runtime.ServiceConfig{Name: "p", Version: "1.0.0"})
	runtime.OnEvent(svc, "h", jobsIn, func(context.Context, event) error { return nil },
		runtime.Emits(contracts.InventoryReserved))
	c := srv.Config("x")
	c.Phases = map[string]string{"inventory.reserved": "dual"}
	_, err = runtime.Start(context.Background(), c, svc)
	if !errors.Is(err, runtime.ErrConfigValidation) || !strings.Contains(err.Error(), "NATSFN_PHASES") || !strings.Contains(err.Error(), "major 2") {
		t.Errorf("a phase the handler cannot follow: %v", err)
	}

	bad := runtime.NewService(runtime.ServiceConfig{Name: "q", Version: "1.0.0"})
	runtime.OnEvent(bad, "h", contracts.InventoryReservedV2, func(context.Context, event) error { return nil },
		runtime.Accepts(contracts.PaymentCompleted))
	if _, err := runtime.Start(context.Background(), srv.Config("y"), bad); !errors.Is(err, runtime.ErrConfigValidation) || !strings.Contains(err.Error(), "not a major of inventory.reserved") {
		t.Errorf("Accepts of another event: %v", err)
	}
}

func TestMicroInfoAndSchemasShowTheVersions(t *testing.T) {
	srv := newServer(t)
	cfg := srv.Config(t.Name())
	cfg.Phases = map[string]string{"inventory.reserved": "dual"}
	fntest.RunConfig(t, cfg, producer(false))
	fntest.Run(t, srv, consumers(&seen{got: map[string][]string{}}))
	nc := srv.Connect(t)

	info := map[string]map[string]string{}
	for _, svc := range []string{"producer", "consumers"} {
		msg, err := nc.Request("$SRV.INFO."+svc, nil, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var mi micro.Info
		if err := json.Unmarshal(msg.Data, &mi); err != nil {
			t.Fatal(err)
		}
		for _, e := range mi.Endpoints {
			info[svc+"/"+e.Name] = e.Metadata
		}
	}
	if md := info["producer/reserve"]; md["produces"] != "inventory.reserved.v1,inventory.reserved.v2" || md["phases"] != "inventory.reserved=dual" {
		t.Errorf("producer metadata %v", md)
	}
	if md := info["consumers/v2"]; md["consumes"] != "inventory.reserved.v2,inventory.reserved.v1" ||
		md["triggers"] != "inventory.reserved.v2,inventory.reserved" || md["trigger"] != "inventory.reserved.v2" {
		t.Errorf("v2 consumer metadata %v", md)
	}
	if md := info["consumers/v1"]; md["consumes"] != "inventory.reserved.v1" {
		t.Errorf("v1 consumer metadata %v", md)
	}

	body, code := fntest.Request(t, nc, "consumers.schemas", nil)
	var s runtime.Schemas
	if err := json.Unmarshal(body, &s); err != nil || code != "" {
		t.Fatalf("consumers.schemas: %s %s %v", code, body, err)
	}
	var got []string
	for _, c := range s.Consumes {
		var doc struct {
			ID string `json:"$id"`
		}
		_ = json.Unmarshal(c.Schema, &doc)
		got = append(got, c.Handler+" "+c.ID+" "+doc.ID)
	}
	want := []string{
		"v1 inventory.reserved.v1 " + contracts.InventoryReserved.URI(),
		"v2 inventory.reserved.v2 " + contracts.InventoryReservedV2.URI(),
		"v2 inventory.reserved.v1 " + contracts.InventoryReserved.URI(),
		"v1-reads-v2 inventory.reserved.v1 " + contracts.InventoryReserved.URI(),
		"v1-reads-v2 inventory.reserved.v2 " + contracts.InventoryReservedV2.URI(),
	}
	if !slices.Equal(got, want) {
		t.Errorf("consumes\n got %q\nwant %q", got, want)
	}
	body, _ = fntest.Request(t, nc, "producer.schemas", nil)
	if err := json.Unmarshal(body, &s); err != nil || len(s.Produces) != 2 || !s.Produces[0].Published || !s.Produces[1].Published || s.Produces[1].URI != contracts.InventoryReservedV2.URI() {
		t.Errorf("producer.schemas: %s", body)
	}
}

// A handler that starts to accept major 2 widens its existing consumer's
// filter, keeping its place in the stream.
func TestAcceptsWidensAnExistingConsumer(t *testing.T) {
	srv := newServer(t)
	svc := func(accepts bool) *runtime.Service {
		svc := runtime.NewService(runtime.ServiceConfig{Name: "reader", Version: "1.0.0"})
		inventoryStream(svc)
		var opts []runtime.EventOption
		if accepts {
			opts = append(opts, runtime.Accepts(contracts.InventoryReservedV2))
		}
		runtime.OnEvent(svc, "h", contracts.InventoryReserved, func(context.Context, contracts.InventoryReservedEvent) error { return nil }, opts...)
		return svc
	}
	inst := fntest.RunConfig(t, srv.Config("old"), svc(false))
	if err := inst.Stop(); err != nil {
		t.Fatal(err)
	}
	fntest.RunConfig(t, srv.Config("new"), svc(true))
	c, err := srv.JetStream(t).Consumer(context.Background(), "INVENTORY", "reader-h")
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.CachedInfo().Config
	if cfg.FilterSubject != "" || !slices.Equal(cfg.FilterSubjects, []string{"inventory.reserved", "inventory.reserved.v2"}) {
		t.Errorf("filter %q %q", cfg.FilterSubject, cfg.FilterSubjects)
	}
}
