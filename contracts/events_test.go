package contracts_test

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/natsfn/natsfn/contracts"
)

var requestSubjects = []string{
	contracts.SubjectOrdersCreate, contracts.SubjectOrdersGet, contracts.SubjectOrdersCancel,
	contracts.SubjectInventoryStockGet, contracts.SubjectInventoryStockSet,
	contracts.SubjectPaymentsGatewayGet, contracts.SubjectPaymentsGatewaySet,
}

func TestEventsAreStoredByTheirStream(t *testing.T) {
	streams := map[string]contracts.StreamDef{}
	for _, def := range contracts.Streams() {
		streams[def.Name] = def
	}
	seen := map[string]bool{}
	for _, ev := range contracts.Events() {
		if seen[ev.Subject()] {
			t.Errorf("subject %s belongs to two events", ev.Subject())
		}
		seen[ev.Subject()] = true
		def, ok := streams[ev.Stream()]
		if !ok {
			t.Errorf("%s: stream %s is not in Streams()", ev.Subject(), ev.Stream())
			continue
		}
		if !slices.Contains(def.Subjects, ev.Subject()) {
			t.Errorf("stream %s does not store %s", def.Name, ev.Subject())
		}
		wantSubject := ev.Name()
		if ev.Major() > 1 {
			wantSubject += ".v" + strconv.Itoa(ev.Major())
		}
		if ev.Subject() != wantSubject {
			t.Errorf("%s: major %d of %s is published on %s, want %s", ev.ID(), ev.Major(), ev.Name(), ev.Subject(), wantSubject)
		}
		if want := ev.Name() + ".v" + strconv.Itoa(ev.Major()); ev.ID() != want {
			t.Errorf("%s: schema id %s, want %s", ev.Subject(), ev.ID(), want)
		}
		if s, ok := contracts.Lookup(ev.ID()); !ok || s.ID() != ev.ID() {
			t.Errorf("%s: schema %s is not in Schemas()", ev.Subject(), ev.ID())
		}
	}
}

func TestStreamsNeverCaptureRequests(t *testing.T) {
	for _, def := range contracts.Streams() {
		if def.Description == "" {
			t.Errorf("stream %s has no description", def.Name)
		}
		for _, subj := range def.Subjects {
			if slices.Contains(requestSubjects, subj) {
				t.Errorf("stream %s captures request subject %s", def.Name, subj)
			}
			if strings.ContainsAny(subj, "*>") {
				t.Errorf("stream %s uses wildcard %s; list subjects explicitly", def.Name, subj)
			}
		}
	}
}

// The streams are exactly those of the conventions; a later major of an
// event is stored beside major 1, so both can be published in one atomic
// batch. A function `natsfn new` made has one stream after the saga's,
// named after it, which stores its own events only.
func TestStreamsMatchConventions(t *testing.T) {
	want := []contracts.StreamDef{
		{Name: "ORDERS", Subjects: []string{"orders.created", "orders.cancelled", "orders.confirmed"}},
		{Name: "INVENTORY", Subjects: []string{"inventory.reserved", "inventory.reserved.v2", "inventory.rejected", "inventory.released"}},
		{Name: "PAYMENTS", Subjects: []string{"payments.completed", "payments.completed.v2", "payments.failed", "payments.failed.v2", "payments.refunded", "payments.refunded.v2"}},
	}
	got := contracts.Streams()
	if len(got) < len(want) {
		t.Fatalf("got %d streams, want at least %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Name != want[i].Name || !slices.Equal(got[i].Subjects, want[i].Subjects) {
			t.Errorf("stream %d: got %s %v, want %s %v", i, got[i].Name, got[i].Subjects, want[i].Name, want[i].Subjects)
		}
	}
	for _, def := range got[len(want):] {
		for _, subj := range def.Subjects {
			if owner, _, _ := strings.Cut(subj, "."); strings.ToUpper(owner) != def.Name {
				t.Errorf("stream %s stores %s, an event of %s", def.Name, subj, owner)
			}
		}
	}
}

// Streams hands out fresh slices: a caller cannot change the next caller's view.
func TestStreamsAreCopies(t *testing.T) {
	first := contracts.Streams()
	first[0].Subjects[0] = "mutated"
	if contracts.Streams()[0].Subjects[0] == "mutated" {
		t.Fatal("Streams shares its slices between calls")
	}
}

func TestEventValidateDelegates(t *testing.T) {
	ev := contracts.OrderCancelled
	if err := ev.Validate([]byte(`{"order_id":"o-1","reason":"cancelled_by_customer"}`)); err != nil {
		t.Fatalf("valid payload refused: %v", err)
	}
	if err := ev.Validate([]byte(`{"order_id":"o-1"}`)); err == nil || !strings.Contains(err.Error(), "'/reason'") {
		t.Fatalf("got %v, want a missing /reason", err)
	}
}
