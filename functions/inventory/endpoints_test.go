package inventory

import (
	"encoding/json"
	"testing"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

func TestStockEndpoints(t *testing.T) {
	h := newHarness(t)
	h.start("inv-1", Config{})

	body, code := h.request(contracts.SubjectInventoryStockGet, contracts.GetStockRequest{ProductID: "sku-x"})
	if code != "404" {
		t.Fatalf("get unknown: code %q %s", code, body)
	}
	var eb runtime.ErrorBody
	if err := json.Unmarshal(body, &eb); err != nil || eb.Code != 404 || eb.Description != "unknown product sku-x" {
		t.Fatalf("error body %s", body)
	}

	for _, bad := range []string{
		`{"product_id":"sku-1","quantity":-1,"price_cents":100}`,
		`{"product_id":"sku 1","quantity":1,"price_cents":100}`,
		`{"product_id":"sku-1","quantity":1}`,
		`{"product_id":"sku-1","quantity":1,"price_cents":100,"extra":true}`,
		`not json`,
	} {
		if body, code := h.request(contracts.SubjectInventoryStockSet, bad); code != "400" {
			t.Errorf("set %s: code %q %s", bad, code, body)
		}
	}
	if _, code := h.request(contracts.SubjectInventoryStockGet, `{}`); code != "400" {
		t.Errorf("get without product: code %q", code)
	}

	for _, set := range []contracts.SetStockRequest{product("sku-1", 5, 250), product("sku-1", 7, 300)} {
		body, code := h.request(contracts.SubjectInventoryStockSet, set)
		var r contracts.StockReply
		if code != "" || json.Unmarshal(body, &r) != nil || r != contracts.StockReply(set) {
			t.Fatalf("set %+v: %q %s", set, code, body)
		}
		if err := contracts.StockReplyV1.Validate(body); err != nil {
			t.Fatal(err)
		}
	}
	body, _ = h.request(contracts.SubjectInventoryStockGet, contracts.GetStockRequest{ProductID: "sku-1"})
	if err := contracts.StockReplyV1.Validate(body); err != nil || string(body) != `{"product_id":"sku-1","quantity":7,"price_cents":300}` {
		t.Fatalf("get: %s %v", body, err)
	}
}

// TestSeedDoesNotResetStock: a restart with the same seed keeps the stock
// that orders took.
func TestSeedDoesNotResetStock(t *testing.T) {
	h := newHarness(t)
	first := h.start("inv-1", Config{Seed: DemoCatalog()})
	h.created("o-1", "m-1", item("sku-1", 5))
	h.Settled(contracts.StreamOrders, "inventory-reserve")
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	h.start("inv-2", Config{Seed: DemoCatalog()})
	if q := h.quantity("sku-1"); q != 95 {
		t.Fatalf("sku-1 stock %d after restart, want 95", q)
	}
	for _, p := range DemoCatalog() {
		if p.ProductID != "sku-1" && h.quantity(p.ProductID) != p.Quantity {
			t.Errorf("%s not seeded", p.ProductID)
		}
	}
}

func TestBadSeedFailsStart(t *testing.T) {
	h := newHarness(t)
	cfg := h.Server.Config("inv-1")
	err := runtime.Run(t.Context(), cfg, New(Config{Seed: []contracts.SetStockRequest{product("bad id", 1, 1)}}))
	if err == nil {
		t.Fatal("started with a bad seed")
	}
}
