package contracts_test

import (
	"testing"

	"github.com/natsfn/natsfn/contracts"
)

func BenchmarkValidateCreateOrder(b *testing.B) {
	doc := []byte(`{"customer_id":"cust-42","items":[{"product_id":"sku-1","quantity":2},{"product_id":"sku-2","quantity":1},{"product_id":"sku-3","quantity":5}]}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if err := contracts.CreateOrderRequestV1.Validate(doc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkValidateCreateOrderInvalid(b *testing.B) {
	doc := []byte(`{"customer_id":"cust-42","items":[{"product_id":"sku 1","quantity":0}]}`)
	b.ReportAllocs()
	for b.Loop() {
		if err := contracts.CreateOrderRequestV1.Validate(doc); err == nil {
			b.Fatal("accepted")
		}
	}
}

// An event as a consumer reads it: inventory.reserved with three items.
func BenchmarkValidateInventoryReserved(b *testing.B) {
	doc := []byte(`{"order_id":"0b6f3c2e-8d1a-4f59-9c3e-5a7d2b1e4f60","items":[{"product_id":"sku-1","quantity":2,"unit_price_cents":1999},{"product_id":"sku-2","quantity":1,"unit_price_cents":4999},{"product_id":"sku-3","quantity":5,"unit_price_cents":999}],"total_cents":13992}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if err := contracts.InventoryReserved.Validate(doc); err != nil {
			b.Fatal(err)
		}
	}
}

// A consumer reads an event its producer sent with the same version: the
// hot path, which must cost what Validate costs.
func BenchmarkValidateReceivedSameVersion(b *testing.B) {
	doc := []byte(`{"order_id":"0b6f3c2e-8d1a-4f59-9c3e-5a7d2b1e4f60","items":[{"product_id":"sku-1","quantity":2,"unit_price_cents":1999},{"product_id":"sku-2","quantity":1,"unit_price_cents":4999},{"product_id":"sku-3","quantity":5,"unit_price_cents":999}],"total_cents":13992}`)
	uri := contracts.InventoryReserved.URI()
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if err := contracts.InventoryReserved.ValidateReceived(uri, doc); err != nil {
			b.Fatal(err)
		}
	}
}

// A consumer reads an event of a newer minor, with a property it does not
// know: the lenient schema.
func BenchmarkValidateReceivedNewerMinor(b *testing.B) {
	doc := []byte(`{"order_id":"0b6f3c2e-8d1a-4f59-9c3e-5a7d2b1e4f60","items":[{"product_id":"sku-1","quantity":2,"unit_price_cents":1999},{"product_id":"sku-2","quantity":1,"unit_price_cents":4999},{"product_id":"sku-3","quantity":5,"unit_price_cents":999}],"total_cents":13992,"warehouse":"w-2"}`)
	uri := "https://natsfn.dev/schemas/inventory.reserved/1.9.json"
	b.ReportAllocs()
	b.SetBytes(int64(len(doc)))
	for b.Loop() {
		if err := contracts.InventoryReserved.ValidateReceived(uri, doc); err != nil {
			b.Fatal(err)
		}
	}
}

// A consumer of major 2 reads a major 1 event and upcasts it.
func BenchmarkConvertUpcast(b *testing.B) {
	doc := []byte(`{"order_id":"0b6f3c2e-8d1a-4f59-9c3e-5a7d2b1e4f60","items":[{"product_id":"sku-1","quantity":2,"unit_price_cents":1999},{"product_id":"sku-2","quantity":1,"unit_price_cents":4999},{"product_id":"sku-3","quantity":5,"unit_price_cents":999}],"total_cents":13992}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := contracts.InventoryReserved.Convert(doc, 2); err != nil {
			b.Fatal(err)
		}
	}
}
