package contracts

import "testing"

// The version machinery (an Event, its latest minor, a schema compiled on
// first use, the ce-dataschema check) against the bare compiled schema
// the package validated with before: the same work, so the ratio must
// stay at 1. Run the two side by side: go test -bench Overhead -count 10.
func BenchmarkValidateOverhead(b *testing.B) {
	doc := []byte(`{"order_id":"0b6f3c2e-8d1a-4f59-9c3e-5a7d2b1e4f60","items":[{"product_id":"sku-1","quantity":2,"unit_price_cents":1999},{"product_id":"sku-2","quantity":1,"unit_price_cents":4999},{"product_id":"sku-3","quantity":5,"unit_price_cents":999}],"total_cents":13992}`)
	bare, err := inventoryReservedV1.strict()
	if err != nil {
		b.Fatal(err)
	}
	uri := InventoryReserved.URI()
	run := map[string]func() error{
		"bare":     func() error { return validateWith("inventory.reserved.v1", bare, doc) },
		"validate": func() error { return InventoryReserved.Validate(doc) },
		"received": func() error { return InventoryReserved.ValidateReceived(uri, doc) },
	}
	for _, name := range []string{"bare", "validate", "received"} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := run[name](); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
