package e2e

import (
	"strings"
	"testing"

	"github.com/natsfn/natsfn/contracts"
)

// TestBadInput: each bad request gets its micro error code, and nothing is
// written: no order, no idempotency claim, no event.
func TestBadInput(t *testing.T) {
	f := startFlow(t)
	f.setStock("sku-a", 10, 100)
	big := `{"customer_id":"c-1","items":[{"product_id":"sku-a","quantity":1}],"pad":"` + strings.Repeat("x", 2<<20) + `"}`
	cases := []struct {
		name, subject, body string
		code                int
		desc                string
	}{
		{"malformed JSON", contracts.SubjectOrdersCreate, `{"customer_id":`, 400, "malformed JSON"},
		{"empty items", contracts.SubjectOrdersCreate, `{"customer_id":"c-1","items":[]}`, 400, "/items"},
		{"quantity 0", contracts.SubjectOrdersCreate, `{"customer_id":"c-1","items":[{"product_id":"sku-a","quantity":0}]}`, 400, "at '/items/0/quantity': must be >= 1"},
		{"unknown product", contracts.SubjectOrdersCreate, `{"customer_id":"c-1","items":[{"product_id":"sku-nope","quantity":1}]}`, 404, "sku-nope"},
		{"2 MB payload", contracts.SubjectOrdersCreate, big, 413, "byte limit"},
		{"unknown order", contracts.SubjectOrdersGet, `{"order_id":"no-such-order"}`, 404, "no-such-order"},
		{"cancel unknown order", contracts.SubjectOrdersCancel, `{"order_id":"no-such-order"}`, 404, "no-such-order"},
		{"bad stock", contracts.SubjectInventoryStockSet, `{"product_id":"sku-a","quantity":-1,"price_cents":1}`, 400, "quantity"},
		{"bad gateway mode", contracts.SubjectPaymentsGatewaySet, `{"mode":"broken"}`, 400, "mode"},
	}
	for _, c := range cases {
		r := f.request(c.subject, []byte(c.body), "Idempotency-Key", "k-"+c.name)
		if r.code != c.code {
			t.Errorf("%s: code %d (%s), want %d", c.name, r.code, r.desc, c.code)
			continue
		}
		if !strings.Contains(r.desc, c.desc) {
			t.Errorf("%s: description %q lacks %q", c.name, r.desc, c.desc)
		}
		if !strings.Contains(string(r.data), `"description":"`+strings.ReplaceAll(r.desc, `"`, `\"`)+`"`) {
			t.Errorf("%s: JSON body %s does not carry the description %q as is", c.name, r.data, r.desc)
		}
	}
	if n := f.keys(contracts.BucketOrders); n != 0 {
		t.Errorf("%d orders written", n)
	}
	if n := f.keys(contracts.BucketIdempotency); n != 0 {
		t.Errorf("%d idempotency keys claimed", n)
	}
	if n := f.count(contracts.StreamOrders, contracts.SubjectOrdersCreated); n != 0 {
		t.Errorf("%d orders.created events", n)
	}
	if f.stock("sku-a") != 10 {
		t.Errorf("stock changed to %d", f.stock("sku-a"))
	}
}
