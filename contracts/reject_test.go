package contracts_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/natsfn/natsfn/contracts"
)

// validator is what the cases validate with: a *contracts.Schema, or a
// contracts.Event, which checks the exact version it produces.
type validator interface {
	ID() string
	Validate(doc []byte) error
}

const validCreate = `{"customer_id":"cust-42","items":[{"product_id":"sku-1","quantity":2}]}`

// TestRejects feeds each schema what it must refuse and checks the one-line
// message: it wraps ErrInvalid, names the schema, and names the location.
func TestRejects(t *testing.T) {
	const (
		uuid = `"0b6f3c2e-8d1a-4f59-9c3e-5a7d2b1e4f60"`
		at   = `"2025-11-26T09:30:00Z"`
	)
	view := func(status, extra string) string {
		return `{"order_id":` + uuid + `,"customer_id":"c","status":"` + status + `"` + extra +
			`,"items":[{"product_id":"p","quantity":1}],"total_cents":0,"created_at":` + at +
			`,"updated_at":` + at + `,"timeline":[]}`
	}
	tests := []struct {
		name   string
		schema validator
		doc    string
		want   string // the whole message
	}{
		{"missing field", contracts.CreateOrderRequestV1, `{"items":[{"product_id":"sku-1","quantity":2}]}`,
			"orders.create.request.v1: at '/customer_id': is required"},
		{"missing nested field", contracts.CreateOrderRequestV1, `{"customer_id":"c","items":[{"quantity":2}]}`,
			"orders.create.request.v1: at '/items/0/product_id': is required"},
		{"extra property", contracts.CreateOrderRequestV1, `{"customer_id":"c","items":[{"product_id":"p","quantity":1}],"coupon":"x"}`,
			"orders.create.request.v1: at '/coupon': is not allowed"},
		{"extra nested property", contracts.CreateOrderRequestV1, `{"customer_id":"c","items":[{"product_id":"p","quantity":1,"note":"x"}]}`,
			"orders.create.request.v1: at '/items/0/note': is not allowed"},
		{"wrong type", contracts.CreateOrderRequestV1, `{"customer_id":"c","items":[{"product_id":"p","quantity":"2"}]}`,
			"orders.create.request.v1: at '/items/0/quantity': must be integer, got string"},
		{"fractional quantity", contracts.CreateOrderRequestV1, `{"customer_id":"c","items":[{"product_id":"p","quantity":1.5}]}`,
			"orders.create.request.v1: at '/items/0/quantity': must be integer, got number"},
		{"not an object", contracts.CreateOrderRequestV1, `[]`,
			"orders.create.request.v1: at document root: must be object, got array"},
		{"null items", contracts.CreateOrderRequestV1, `{"customer_id":"c","items":null}`,
			"orders.create.request.v1: at '/items': must be array, got null"},
		{"empty items", contracts.CreateOrderRequestV1, `{"customer_id":"c","items":[]}`,
			"orders.create.request.v1: at '/items': must have at least 1 item"},
		{"quantity 0", contracts.CreateOrderRequestV1, `{"customer_id":"c","items":[{"product_id":"p","quantity":2},{"product_id":"q","quantity":0}]}`,
			"orders.create.request.v1: at '/items/1/quantity': must be >= 1"},
		{"quantity too big", contracts.CreateOrderRequestV1, `{"customer_id":"c","items":[{"product_id":"p","quantity":10001}]}`,
			"orders.create.request.v1: at '/items/0/quantity': must be <= 10000"},
		{"empty customer", contracts.CreateOrderRequestV1, `{"customer_id":"","items":[{"product_id":"p","quantity":1}]}`,
			"orders.create.request.v1: at '/customer_id': must be at least 1 character long"},
		{"long customer", contracts.CreateOrderRequestV1, `{"customer_id":"` + strings.Repeat("c", 129) + `","items":[{"product_id":"p","quantity":1}]}`,
			"orders.create.request.v1: at '/customer_id': must be at most 128 characters long"},
		{"bad product id", contracts.CreateOrderRequestV1, `{"customer_id":"c","items":[{"product_id":"sku 1","quantity":1}]}`,
			"orders.create.request.v1: at '/items/0/product_id': must match ^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$"},
		{"product id with a leading dot", contracts.CreateOrderRequestV1, `{"customer_id":"c","items":[{"product_id":".x","quantity":1}]}`,
			"orders.create.request.v1: at '/items/0/product_id': must match ^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$"},
		{"order id with two dots in a row", contracts.GetOrderRequestV1, `{"order_id":"a..b"}`,
			"orders.get.request.v1: at '/order_id': must match ^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$"},
		{"stock id with a trailing dot", contracts.GetStockRequestV1, `{"product_id":"sku."}`,
			"inventory.stock.get.request.v1: at '/product_id': must match ^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$"},
		{"several problems", contracts.CreateOrderRequestV1, `{"items":[{"product_id":"","quantity":0}],"x":1,"y":2}`,
			"orders.create.request.v1: at '/customer_id': is required; at '/items/0/product_id': must be at least 1 character long; at '/items/0/product_id': must match ^[A-Za-z0-9_-]+(\\.[A-Za-z0-9_-]+)*$; and 3 more"},
		{"malformed JSON", contracts.CreateOrderRequestV1, `{"customer_id":`,
			"orders.create.request.v1: malformed JSON: unexpected EOF"},
		{"trailing data", contracts.CreateOrderRequestV1, validCreate + `{}`,
			"orders.create.request.v1: malformed JSON: invalid character after top-level value"},
		{"empty document", contracts.GetGatewayRequestV1, ``,
			"payments.gateway.get.request.v1: malformed JSON: empty document"},
		{"gateway get not empty", contracts.GetGatewayRequestV1, `{"mode":"ok"}`,
			"payments.gateway.get.request.v1: at '/mode': is not allowed"},
		{"create reply not a uuid", contracts.CreateOrderReplyV1, `{"order_id":"o-1","status":"pending"}`,
			"orders.create.reply.v1: at '/order_id': must be a valid uuid"},
		{"bad status", contracts.CreateOrderReplyV1, `{"order_id":` + uuid + `,"status":"shipped"}`,
			`orders.create.reply.v1: at '/status': must be one of "pending", "reserved", "confirmed", "cancelled"`},
		{"cancel reply not cancelled", contracts.CancelOrderReplyV1, `{"order_id":"o-1","status":"pending","reason":"cancelled_by_customer"}`,
			`orders.cancel.reply.v1: at '/status': must be "cancelled"`},
		{"view bad date", contracts.OrderViewV1, strings.Replace(view("pending", ""), `"created_at":`+at, `"created_at":"yesterday"`, 1),
			"orders.get.reply.v1: at '/created_at': must be a valid date-time"},
		{"view reason when pending", contracts.OrderViewV1, view("pending", `,"reason":"out_of_stock"`),
			"orders.get.reply.v1: at '/reason': is not allowed"},
		{"view cancelled without reason", contracts.OrderViewV1, view("cancelled", ""),
			"orders.get.reply.v1: at '/reason': is required"},
		{"view confirmed without payment", contracts.OrderViewV1, view("confirmed", ""),
			"orders.get.reply.v1: at '/payment_id': is required"},
		{"view negative total", contracts.OrderViewV1, strings.Replace(view("pending", ""), `"total_cents":0`, `"total_cents":-1`, 1),
			"orders.get.reply.v1: at '/total_cents': must be >= 0"},
		{"negative price", contracts.SetStockRequestV1, `{"product_id":"p","quantity":1,"price_cents":-5}`,
			"inventory.stock.set.request.v1: at '/price_cents': must be >= 0"},
		{"negative stock", contracts.SetStockRequestV1, `{"product_id":"p","quantity":-1,"price_cents":5}`,
			"inventory.stock.set.request.v1: at '/quantity': must be >= 0"},
		{"bad gateway mode", contracts.SetGatewayRequestV1, `{"mode":"flaky"}`,
			`payments.gateway.set.request.v1: at '/mode': must be one of "ok", "decline", "outage"`},
		{"failure rate above 1", contracts.SetGatewayRequestV1, `{"mode":"ok","failure_rate":1.5}`,
			"payments.gateway.set.request.v1: at '/failure_rate': must be <= 1"},
		{"latency too long", contracts.SetGatewayRequestV1, `{"mode":"ok","latency_ms":10001}`,
			"payments.gateway.set.request.v1: at '/latency_ms': must be <= 10000"},
		{"gateway reply incomplete", contracts.GatewayReplyV1, `{"mode":"ok"}`,
			"payments.gateway.reply.v1: at '/failure_rate': is required; at '/latency_ms': is required"},
		{"reserved negative unit price", contracts.InventoryReserved, `{"order_id":"o","items":[{"product_id":"p","quantity":1,"unit_price_cents":-1}],"total_cents":0}`,
			"inventory.reserved.v1: at '/items/0/unit_price_cents': must be >= 0"},
		{"reserved without unit price", contracts.InventoryReserved, `{"order_id":"o","items":[{"product_id":"p","quantity":1}],"total_cents":0}`,
			"inventory.reserved.v1: at '/items/0/unit_price_cents': is required"},
		{"reserved v2 with cents", contracts.InventoryReservedV2, `{"order_id":"o","items":[{"product_id":"p","quantity":1,"unit_price_cents":100}],"total_money":{"amount":100,"currency":"EUR"}}`,
			"inventory.reserved.v2: at '/items/0/unit_price_cents': is not allowed; at '/items/0/unit_price_money': is required"},
		{"reserved v2 lower-case currency", contracts.InventoryReservedV2, `{"order_id":"o","items":[{"product_id":"p","quantity":1,"unit_price_money":{"amount":100,"currency":"eur"}}],"total_money":{"amount":100,"currency":"EUR"}}`,
			"inventory.reserved.v2: at '/items/0/unit_price_money/currency': must match ^[A-Z]{3}$"},
		{"reserved v2 fractional amount", contracts.InventoryReservedV2, `{"order_id":"o","items":[{"product_id":"p","quantity":1,"unit_price_money":{"amount":1.5,"currency":"EUR"}}],"total_money":{"amount":100,"currency":"EUR"}}`,
			"inventory.reserved.v2: at '/items/0/unit_price_money/amount': must be integer, got number"},
		{"completed v2 without currency", contracts.PaymentCompletedV2, `{"order_id":"o","payment_id":"p","amount_money":{"amount":100}}`,
			"payments.completed.v2: at '/amount_money/currency': is required"},
		{"failed v2 negative amount", contracts.PaymentFailedV2, `{"order_id":"o","reason":"declined","amount_money":{"amount":-1,"currency":"EUR"}}`,
			"payments.failed.v2: at '/amount_money/amount': must be >= 0"},
		{"refunded v2 amount as a string", contracts.PaymentRefundedV2, `{"order_id":"o","payment_id":"p","amount_money":{"amount":"19.99","currency":"EUR"}}`,
			"payments.refunded.v2: at '/amount_money/amount': must be integer, got string"},
		{"created bad priority", contracts.OrderCreated, `{"order_id":"o","customer_id":"c","items":[{"product_id":"p","quantity":1}],"created_at":"2025-11-26T09:30:00Z","priority":"urgent"}`,
			`orders.created.v1: at '/priority': must be one of "standard", "express"`},
		{"rejected bad reason", contracts.InventoryRejected, `{"order_id":"o","reason":"payment_declined","product_id":"p"}`,
			`inventory.rejected.v1: at '/reason': must be one of "out_of_stock", "unknown_product"`},
		{"released bad cause", contracts.InventoryReleased, `{"order_id":"o","items":[{"product_id":"p","quantity":1}],"cause":"orders.created"}`,
			`inventory.released.v1: at '/cause': must be one of "payments.failed", "orders.cancelled"`},
		{"released empty items", contracts.InventoryReleased, `{"order_id":"o","items":[],"cause":"orders.cancelled"}`,
			"inventory.released.v1: at '/items': must have at least 1 item"},
		{"completed negative amount", contracts.PaymentCompleted, `{"order_id":"o","payment_id":"p","amount_cents":-1}`,
			"payments.completed.v1: at '/amount_cents': must be >= 0"},
		{"failed bad reason", contracts.PaymentFailed, `{"order_id":"o","reason":"payment_declined","amount_cents":1}`,
			`payments.failed.v1: at '/reason': must be one of "declined"`},
		{"cancelled bad reason", contracts.OrderCancelled, `{"order_id":"o","reason":"bored"}`,
			`orders.cancelled.v1: at '/reason': must be one of "out_of_stock", "unknown_product", "payment_declined", "cancelled_by_customer"`},
		{"confirmed missing payment", contracts.OrderConfirmed, `{"order_id":"o","total_cents":1}`,
			"orders.confirmed.v1: at '/payment_id': is required"},
		{"created bad date", contracts.OrderCreated, `{"order_id":"o","customer_id":"c","items":[{"product_id":"p","quantity":1}],"created_at":"2025-13-01T00:00:00Z"}`,
			"orders.created.v1: at '/created_at': must be a valid date-time"},
		{"escaped pointer", contracts.GetStockRequestV1, `{"product_id":"p","a/b~c":1}`,
			"inventory.stock.get.request.v1: at '/a~1b~0c': is not allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.schema.Validate([]byte(tc.doc))
			if err == nil {
				t.Fatalf("accepted %s", tc.doc)
			}
			if !errors.Is(err, contracts.ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid: %v", err)
			}
			if got := err.Error(); got != tc.want {
				t.Errorf("message\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

// The same bad document always gets the same message, although the
// validator walks object properties in map order.
func TestRejectMessageIsStable(t *testing.T) {
	doc := []byte(`{"a":1,"b":2,"c":3,"d":4,"e":5,"customer_id":7,"items":[{"product_id":"p","quantity":0,"z":1}]}`)
	first := contracts.CreateOrderRequestV1.Validate(doc).Error()
	for range 50 {
		if got := contracts.CreateOrderRequestV1.Validate(doc).Error(); got != first {
			t.Fatalf("message changed:\n%s\n%s", first, got)
		}
	}
}

func TestZeroValuesDoNotPanic(t *testing.T) {
	var s *contracts.Schema
	if s.ID() != "" {
		t.Error("nil schema has an id")
	}
	if err := s.Validate([]byte(`{}`)); err == nil || errors.Is(err, contracts.ErrInvalid) {
		t.Errorf("nil schema: got %v, want a usage error", err)
	}
	var ev contracts.Event
	if err := ev.Validate([]byte(`{}`)); err == nil {
		t.Error("zero event validated a document")
	}
	if ev.ID() != "" || ev.Subject() != "" || ev.Stream() != "" {
		t.Error("zero event is not empty")
	}
}
