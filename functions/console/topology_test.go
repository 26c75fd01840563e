package console

import (
	"slices"
	"testing"
)

func handler(name, trigger, stream string) endpoint {
	return endpoint{Name: name, Kind: kindEvent, Metadata: map[string]string{"kind": kindEvent, "trigger": trigger, "stream": stream}}
}

// TestTopology: consumption from the handlers' trigger metadata; emission
// from EmitsKey when a function declares it (and then nothing else for that
// function), else what was seen on NATS, else the stream named after it.
func TestTopology(t *testing.T) {
	create := endpoint{Name: "create", Kind: kindEndpoint, Metadata: map[string]string{EmitsKey: "orders.created, orders.cancelled"}}
	fns := []function{
		{Name: "orders", Endpoints: []endpoint{create, handler("inventory-reserved", "inventory.reserved", "INVENTORY")}},
		{Name: "inventory", Endpoints: []endpoint{handler("reserve", "orders.created", "ORDERS")}},
		{Name: "payments", Endpoints: []endpoint{handler("charge", "inventory.reserved", "INVENTORY")}},
	}
	observed := map[string][]string{"orders.confirmed": {"orders"}, "inventory.reserved": {"inventory"}}
	top := buildTopology(fns, observed)

	want := []edge{
		{Function: "orders", Handler: "create", Subject: "orders.created", Emits: true, From: fromMetadata},
		{Function: "inventory", Handler: "reserve", Subject: "orders.created", From: fromMetadata},
		{Function: "orders", Handler: "create", Subject: "orders.cancelled", Emits: true, From: fromMetadata},
		{Function: "inventory", Subject: "inventory.reserved", Emits: true, From: fromObserved},
		{Function: "orders", Handler: "inventory-reserved", Subject: "inventory.reserved", From: fromMetadata},
		{Function: "payments", Handler: "charge", Subject: "inventory.reserved", From: fromMetadata},
		{Function: "inventory", Subject: "inventory.reserved.v2", Emits: true, From: fromStream},
		{Function: "inventory", Subject: "inventory.rejected", Emits: true, From: fromStream},
		{Function: "inventory", Subject: "inventory.released", Emits: true, From: fromStream},
		{Function: "payments", Subject: "payments.completed", Emits: true, From: fromStream},
		{Function: "payments", Subject: "payments.completed.v2", Emits: true, From: fromStream},
		{Function: "payments", Subject: "payments.failed", Emits: true, From: fromStream},
		{Function: "payments", Subject: "payments.failed.v2", Emits: true, From: fromStream},
		{Function: "payments", Subject: "payments.refunded", Emits: true, From: fromStream},
		{Function: "payments", Subject: "payments.refunded.v2", Emits: true, From: fromStream},
	}
	if !slices.Equal(top.Edges, want) {
		t.Fatalf("edges:\n got %+v\nwant %+v", top.Edges, want)
	}
	// orders declares what it emits: orders.confirmed, seen on NATS and in
	// its stream, is not drawn from those.
	if slices.Contains(top.Subjects, "orders.confirmed") {
		t.Fatalf("subjects %v", top.Subjects)
	}
	if !slices.Equal(top.Subjects, []string{"orders.created", "orders.cancelled", "inventory.reserved", "inventory.reserved.v2",
		"inventory.rejected", "inventory.released", "payments.completed", "payments.completed.v2", "payments.failed",
		"payments.failed.v2", "payments.refunded", "payments.refunded.v2"}) {
		t.Fatalf("subjects not in the saga's order: %v", top.Subjects)
	}
	if got := top.Consumers("inventory.reserved"); len(got) != 2 {
		t.Fatalf("consumers of inventory.reserved: %+v", got)
	}

	d := draw(top, fns)
	if len(d.Links) != len(top.Edges) || len(d.Subjects) != len(top.Subjects) || len(d.Functions) != 3 || len(d.Handlers) != 3 {
		t.Fatalf("drawing: %d links, %d subjects, %d functions, %d handlers", len(d.Links), len(d.Subjects), len(d.Functions), len(d.Handlers))
	}
	for i := 1; i < len(d.Functions); i++ {
		if d.Functions[i].Y < d.Functions[i-1].Y+d.Functions[i-1].H {
			t.Fatalf("function boxes overlap: %+v", d.Functions)
		}
	}
	for _, b := range append(append(d.Functions, d.Subjects...), d.Handlers...) {
		if b.Y+b.H > d.Height || b.X+b.W > d.Width {
			t.Fatalf("box %+v outside the %dx%d drawing", b, d.Width, d.Height)
		}
	}
}
