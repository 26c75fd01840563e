package e2e

import (
	"encoding/json"
	"testing"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

func TestIdempotencyKeyReplays(t *testing.T) {
	f := startFlow(t)
	f.setStock("sku-a", 10, 100)
	body := []byte(`{"customer_id":"c-1","items":[{"product_id":"sku-a","quantity":1}]}`)
	first := f.request(contracts.SubjectOrdersCreate, body, runtime.HeaderIdempotencyKey, "key-1")
	again := f.request(contracts.SubjectOrdersCreate, body, runtime.HeaderIdempotencyKey, "key-1")
	if first.code != 0 || again.code != 0 {
		t.Fatalf("codes %d %d", first.code, again.code)
	}
	var a, b contracts.CreateOrderReply
	_ = json.Unmarshal(first.data, &a)
	_ = json.Unmarshal(again.data, &b)
	if a.OrderID == "" || a.OrderID != b.OrderID {
		t.Fatalf("replay gave another order: %s vs %s", a.OrderID, b.OrderID)
	}
	other := []byte(`{"customer_id":"c-1","items":[{"product_id":"sku-a","quantity":2}]}`)
	if r := f.request(contracts.SubjectOrdersCreate, other, runtime.HeaderIdempotencyKey, "key-1"); r.code != 409 {
		t.Fatalf("same key, other body: %d %s", r.code, r.desc)
	}
	if v := f.settle(a.OrderID, 15e9); v.Status != contracts.StatusConfirmed {
		t.Fatalf("order %+v", v)
	}
	if f.stock("sku-a") != 9 || f.keys(contracts.BucketOrders) != 1 {
		t.Fatalf("stock %d, orders %d", f.stock("sku-a"), f.keys(contracts.BucketOrders))
	}
}

func TestCorrelationID(t *testing.T) {
	f := startFlow(t)
	f.setStock("sku-a", 10, 100)
	body := []byte(`{"customer_id":"c-1","items":[{"product_id":"sku-a","quantity":1}]}`)
	r := f.request(contracts.SubjectOrdersCreate, body, runtime.HeaderCorrelationID, "corr-42")
	if r.code != 0 || r.hdr.Get(runtime.HeaderCorrelationID) != "corr-42" {
		t.Fatalf("reply %d, correlation %q", r.code, r.hdr.Get(runtime.HeaderCorrelationID))
	}
	// Without one, the reply names the id that was made.
	r = f.request(contracts.SubjectOrdersCreate, body)
	if r.code != 0 || r.hdr.Get(runtime.HeaderCorrelationID) == "" {
		t.Fatalf("no correlation id made: %v", r.hdr)
	}
}
