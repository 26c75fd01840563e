package contracts_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/natsfn/natsfn/contracts"
)

const (
	uriCreated10  = "https://natsfn.dev/schemas/orders.created/1.0.json"
	uriCreated11  = "https://natsfn.dev/schemas/orders.created/1.1.json"
	uriCreated17  = "https://natsfn.dev/schemas/orders.created/1.7.json" // a minor no one here knows
	uriReserved10 = "https://natsfn.dev/schemas/inventory.reserved/1.0.json"
	uriReserved13 = "https://natsfn.dev/schemas/inventory.reserved/1.3.json"
	uriReserved20 = "https://natsfn.dev/schemas/inventory.reserved/2.0.json"
)

// created builds an orders.created payload with extra members spliced in
// at the top level and in its one item.
func created(top, item string) string {
	return `{"order_id":"o-1","customer_id":"c-1","items":[{"product_id":"sku-1","quantity":2` + item +
		`}],"created_at":"2025-11-26T09:30:00Z"` + top + `}`
}

// TestValidateReceived reads events as a consumer does, with the
// ce-dataschema their producer sent: strict about the versions it knows,
// lenient about the properties of a newer minor, and refusing another
// event's or another major's payload.
func TestValidateReceived(t *testing.T) {
	tests := []struct {
		name       string
		event      contracts.Event
		dataschema string
		doc        string
		want       string // "" to accept, else the whole message
	}{
		{"own version", contracts.OrderCreated, uriCreated11, created(`,"priority":"express"`, ""), ""},
		{"own version, unknown property", contracts.OrderCreated, uriCreated11, created(`,"gift_wrap":true`, ""),
			"orders.created.v1: at '/gift_wrap': is not allowed"},
		{"older known minor", contracts.OrderCreated, uriCreated10, created("", ""), ""},
		{"older known minor is checked as it was", contracts.OrderCreated, uriCreated10, created(`,"priority":"express"`, ""),
			"orders.created.v1: at '/priority': is not allowed"},
		{"newer minor, new properties ignored at every depth", contracts.OrderCreated, uriCreated17,
			created(`,"gift_wrap":true,"channel":{"web":true}`, `,"note":"fragile"`), ""},
		{"newer minor, known property still checked", contracts.OrderCreated, uriCreated17,
			created(`,"gift_wrap":true,"priority":"urgent"`, ""),
			`orders.created.v1: at '/priority': must be one of "standard", "express"`},
		{"newer minor, known nested property still checked", contracts.OrderCreated, uriCreated17,
			strings.Replace(created("", `,"note":"x"`), `"quantity":2`, `"quantity":0`, 1),
			"orders.created.v1: at '/items/0/quantity': must be >= 1"},
		{"newer minor, required property still required", contracts.OrderCreated, uriCreated17,
			strings.Replace(created(`,"gift_wrap":true`, ""), `"customer_id":"c-1",`, "", 1),
			"orders.created.v1: at '/customer_id': is required"},
		{"the issue: a 1.1 producer's priority read by a 1.0 reader", contracts.InventoryReserved, uriReserved13,
			`{"order_id":"o-1","items":[{"product_id":"p","quantity":1,"unit_price_cents":5,"warehouse":"w-2"}],"total_cents":5,"priority":"express"}`, ""},
		{"no ce-dataschema: read leniently", contracts.OrderCreated, "", created(`,"gift_wrap":true`, ""), ""},
		{"no ce-dataschema: known properties checked", contracts.OrderCreated, "",
			strings.Replace(created(`,"gift_wrap":true`, ""), "2025-11-26T09:30:00Z", "yesterday", 1),
			"orders.created.v1: at '/created_at': must be a valid date-time"},
		{"legacy id as ce-dataschema: read leniently", contracts.InventoryReserved, "inventory.reserved.v1",
			`{"order_id":"o-1","items":[{"product_id":"p","quantity":1,"unit_price_cents":5}],"total_cents":5,"currency":"EUR"}`, ""},
		{"another major", contracts.InventoryReserved, uriReserved20,
			`{"order_id":"o-1","items":[{"product_id":"p","quantity":1,"unit_price_cents":5}],"total_cents":5}`,
			"inventory.reserved.v1: ce-dataschema " + uriReserved20 + " is inventory.reserved major 2, not a version of this event"},
		{"an older major on the new subject", contracts.InventoryReservedV2, uriReserved10,
			`{"order_id":"o-1","items":[{"product_id":"p","quantity":1,"unit_price_cents":5}],"total_cents":5}`,
			"inventory.reserved.v2: ce-dataschema " + uriReserved10 + " is inventory.reserved major 1, not a version of this event"},
		{"another event", contracts.InventoryReserved, uriCreated11, created("", ""),
			"inventory.reserved.v1: ce-dataschema " + uriCreated11 + " is orders.created major 1, not a version of this event"},
		{"not a natsfn URI", contracts.OrderCreated, "https://example.com/order.json", created("", ""),
			`orders.created.v1: ce-dataschema "https://example.com/order.json" is not a natsfn schema URI`},
		{"malformed JSON", contracts.OrderCreated, uriCreated17, `{"order_id":`,
			"orders.created.v1: malformed JSON: unexpected EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.event.ValidateReceived(tc.dataschema, []byte(tc.doc))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted %s", tc.doc)
			}
			if !errors.Is(err, contracts.ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			if err.Error() != tc.want {
				t.Errorf("message\n got %s\nwant %s", err, tc.want)
			}
		})
	}
}

// What a consumer accepts leniently, a producer still refuses: Validate
// checks the exact version this program produces.
func TestProducerStaysStrict(t *testing.T) {
	doc := []byte(created(`,"gift_wrap":true`, ""))
	if err := contracts.OrderCreated.ValidateReceived(uriCreated17, doc); err != nil {
		t.Fatalf("reader refused a newer minor: %v", err)
	}
	err := contracts.OrderCreated.Validate(doc)
	if err == nil || err.Error() != "orders.created.v1: at '/gift_wrap': is not allowed" {
		t.Fatalf("producer: got %v", err)
	}
}

func TestEventVersions(t *testing.T) {
	ev := contracts.OrderCreated
	if ev.Name() != "orders.created" || ev.Major() != 1 || ev.URI() != uriCreated11 {
		t.Errorf("OrderCreated: name %q major %d uri %q", ev.Name(), ev.Major(), ev.URI())
	}
	if ev.Type().Name() != "OrderCreatedEvent" {
		t.Errorf("OrderCreated carries %v", ev.Type())
	}
	v2 := contracts.InventoryReservedV2
	if v2.Name() != "inventory.reserved" || v2.Major() != 2 || v2.URI() != uriReserved20 || v2.Subject() != "inventory.reserved.v2" {
		t.Errorf("InventoryReservedV2: %q %d %q %q", v2.Name(), v2.Major(), v2.URI(), v2.Subject())
	}
	var zero contracts.Event
	if err := zero.ValidateReceived("", []byte(`{}`)); err == nil || errors.Is(err, contracts.ErrInvalid) {
		t.Errorf("zero event: got %v, want a usage error", err)
	}
	if zero.Name() != "" || zero.Major() != 0 || zero.URI() != "" || zero.Type() != nil {
		t.Error("zero event is not empty")
	}
}
