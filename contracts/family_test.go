package contracts_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/natsfn/natsfn/contracts"
)

func TestFamilies(t *testing.T) {
	majors := map[string]int{}
	for _, f := range contracts.Families() {
		vs := f.Versions()
		majors[f.Name()] = len(vs)
		for i, ev := range vs {
			if ev.Name() != f.Name() || ev.Major() != i+1 {
				t.Errorf("%s: version %d is %s major %d", f.Name(), i+1, ev.Name(), ev.Major())
			}
			if got, ok := f.Version(i + 1); !ok || got != ev {
				t.Errorf("%s: Version(%d) = %v, %v", f.Name(), i+1, got, ok)
			}
			if ev.Stream() != vs[0].Stream() {
				t.Errorf("%s: major %d is stored by %s, major 1 by %s", f.Name(), i+1, ev.Stream(), vs[0].Stream())
			}
		}
		got, ok := contracts.LookupFamily(f.Name())
		if !ok || got.Name() != f.Name() || len(got.Versions()) != len(vs) {
			t.Errorf("LookupFamily(%q) = %v, %v", f.Name(), got.Name(), ok)
		}
	}
	want := map[string]int{
		"orders.created": 1, "orders.cancelled": 1, "orders.confirmed": 1,
		"inventory.reserved": 2, "inventory.rejected": 1, "inventory.released": 1,
		"payments.completed": 2, "payments.failed": 2, "payments.refunded": 2,
		// natsfn new: families
	}
	if !reflect.DeepEqual(majors, want) {
		t.Errorf("families and their majors:\n got %v\nwant %v", majors, want)
	}
	if _, ok := contracts.LookupFamily("orders.shipped"); ok {
		t.Error("found a family that does not exist")
	}
	f, _ := contracts.LookupFamily("inventory.reserved")
	if _, ok := f.Version(3); ok {
		t.Error("inventory.reserved has a major 3")
	}
	f.Versions()[0] = contracts.Event{}
	if v, _ := f.Version(1); v != contracts.InventoryReserved {
		t.Error("Versions shares its slice")
	}
}

const (
	reservedV1 = `{"order_id":"o-1","items":[{"product_id":"sku-1","quantity":2,"unit_price_cents":1999},{"product_id":"free","quantity":1,"unit_price_cents":0}],"total_cents":3998}`
	reservedV2 = `{"order_id":"o-1","items":[{"product_id":"sku-1","quantity":2,"unit_price_money":{"amount":1999,"currency":"EUR"}},{"product_id":"free","quantity":1,"unit_price_money":{"amount":0,"currency":"EUR"}}],"total_money":{"amount":3998,"currency":"EUR"}}`
)

func TestConvert(t *testing.T) {
	tests := []struct {
		name  string
		from  contracts.Event
		doc   string
		major int
		want  string
	}{
		{"upcast", contracts.InventoryReserved, reservedV1, 2, reservedV2},
		{"downcast", contracts.InventoryReservedV2, reservedV2, 1, reservedV1},
		{"same major", contracts.InventoryReserved, reservedV1, 1, reservedV1},
		{"upcast drops what a newer minor added", contracts.InventoryReserved,
			strings.Replace(reservedV1, `"total_cents"`, `"warehouse":"w-2","total_cents"`, 1), 2, reservedV2},
		{"payments.completed up", contracts.PaymentCompleted, `{"order_id":"o","payment_id":"p","amount_cents":5}`, 2,
			`{"order_id":"o","payment_id":"p","amount_money":{"amount":5,"currency":"EUR"}}`},
		{"payments.failed up", contracts.PaymentFailed, `{"order_id":"o","reason":"declined","amount_cents":5}`, 2,
			`{"order_id":"o","reason":"declined","amount_money":{"amount":5,"currency":"EUR"}}`},
		{"payments.refunded down", contracts.PaymentRefundedV2, `{"order_id":"o","payment_id":"p","amount_money":{"amount":5,"currency":"EUR"}}`, 1,
			`{"order_id":"o","payment_id":"p","amount_cents":5}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.from.Convert([]byte(tc.doc), tc.major)
			if err != nil {
				t.Fatal(err)
			}
			assertSameJSON(t, got, []byte(tc.want))
		})
	}
}

func TestConvertRefuses(t *testing.T) {
	yen := strings.ReplaceAll(reservedV2, `"EUR"`, `"JPY"`)
	mixed := strings.Replace(reservedV2, `"amount":0,"currency":"EUR"`, `"amount":0,"currency":"USD"`, 1)
	tests := []struct {
		name  string
		from  contracts.Event
		doc   string
		major int
		want  string
	}{
		{"downcast of another currency", contracts.InventoryReservedV2, yen, 1,
			"inventory.reserved.v2 to major 1: total_money is in JPY; major 1 amounts are EUR cents: invalid document"},
		{"downcast of a mixed event", contracts.InventoryReservedV2, mixed, 1,
			"inventory.reserved.v2 to major 1: items/1/unit_price_money is in USD; major 1 amounts are EUR cents: invalid document"},
		{"payment in another currency", contracts.PaymentCompletedV2, `{"order_id":"o","payment_id":"p","amount_money":{"amount":5,"currency":"USD"}}`, 1,
			"payments.completed.v2 to major 1: amount_money is in USD; major 1 amounts are EUR cents: invalid document"},
		{"no such major", contracts.InventoryReserved, reservedV1, 3,
			"inventory.reserved.v1: no major 3 in family inventory.reserved: invalid document"},
		{"not JSON", contracts.InventoryReserved, `{`, 2,
			"inventory.reserved.v1: convert: unexpected end of JSON input: invalid document"},
		{"a family of one major", contracts.OrderCreated, `{}`, 2,
			"orders.created.v1: no major 2 in family orders.created: invalid document"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.from.Convert([]byte(tc.doc), tc.major)
			if err == nil {
				t.Fatalf("converted to %s", got)
			}
			if !errors.Is(err, contracts.ErrInvalid) || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
	var zero contracts.Event
	if _, err := zero.Convert([]byte(`{}`), 1); err == nil {
		t.Error("a zero Event converted")
	}
}

// The typed converters are plain functions: a handler or a test can call
// them without JSON.
func TestTypedConverters(t *testing.T) {
	v1 := contracts.PaymentFailedEvent{OrderID: "o", Reason: contracts.FailureDeclined, AmountCents: 4999}
	v2, err := contracts.UpcastPaymentFailed(v1)
	if err != nil || v2.AmountMoney != (contracts.Money{Amount: 4999, Currency: contracts.V1Currency}) {
		t.Fatalf("upcast: %+v, %v", v2, err)
	}
	back, err := contracts.DowncastPaymentFailed(v2)
	if err != nil || back != v1 {
		t.Fatalf("downcast: %+v, %v", back, err)
	}
	v2.AmountMoney.Currency = "CHF"
	if _, err := contracts.DowncastPaymentFailed(v2); !errors.Is(err, contracts.ErrInvalid) {
		t.Fatalf("downcast of CHF: %v", err)
	}
}

func assertSameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v", got, err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("%s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("JSON\n got %s\nwant %s", got, want)
	}
}
