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
