package contracts_test

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/natsfn/natsfn/contracts"
)

func ptr[T any](v T) *T { return &v }

var (
	t0 = time.Date(2025, 11, 26, 9, 30, 0, 0, time.UTC)
	t1 = t0.Add(1500 * time.Millisecond)
	t2 = t0.Add(3 * time.Second)
)

const sampleOrderID = "0b6f3c2e-8d1a-4f59-9c3e-5a7d2b1e4f60"

// roundTrips holds a populated sample for every schema, several where the
// schema has optional parts.
var roundTrips = []struct {
	name   string
	schema validator
	value  any
}{
	{"create request", contracts.CreateOrderRequestV1, &contracts.CreateOrderRequest{
		CustomerID: "cust-42",
		Items:      []contracts.OrderItem{{ProductID: "sku-1", Quantity: 2}, {ProductID: "SKU_2.b", Quantity: 10000}},
	}},
	{"create reply", contracts.CreateOrderReplyV1, &contracts.CreateOrderReply{OrderID: sampleOrderID, Status: contracts.StatusPending}},
	{"get request", contracts.GetOrderRequestV1, &contracts.GetOrderRequest{OrderID: sampleOrderID}},
	{"order view pending", contracts.OrderViewV1, &contracts.OrderView{
		OrderID: sampleOrderID, CustomerID: "cust-42", Status: contracts.StatusPending,
		Items:     []contracts.OrderViewItem{{ProductID: "sku-1", Quantity: 2}},
		CreatedAt: t0, UpdatedAt: t0,
		Timeline: []contracts.TimelineEntry{{Event: contracts.SubjectOrdersCreated, Status: contracts.StatusPending, At: t0}},
	}},
	{"order view confirmed", contracts.OrderViewV1, &contracts.OrderView{
		OrderID: sampleOrderID, CustomerID: "cust-42", Status: contracts.StatusConfirmed,
		Items:      []contracts.OrderViewItem{{ProductID: "sku-1", Quantity: 2, UnitPriceCents: ptr[int64](1250)}, {ProductID: "free", Quantity: 1, UnitPriceCents: ptr[int64](0)}},
		TotalCents: 2500, PaymentID: "pay-7", CreatedAt: t0, UpdatedAt: t2,
		Timeline: []contracts.TimelineEntry{
			{Event: contracts.SubjectOrdersCreated, Status: contracts.StatusPending, At: t0},
			{Event: contracts.SubjectInventoryReserved, Status: contracts.StatusReserved, At: t1, Detail: "2 items reserved"},
			{Event: contracts.SubjectPaymentsCompleted, Status: contracts.StatusConfirmed, At: t2},
		},
	}},
	{"order view cancelled", contracts.OrderViewV1, &contracts.OrderView{
		OrderID: sampleOrderID, CustomerID: "cust-42", Status: contracts.StatusCancelled, Reason: contracts.ReasonOutOfStock,
		Items:     []contracts.OrderViewItem{{ProductID: "sku-1", Quantity: 2}},
		CreatedAt: t0, UpdatedAt: t1,
		Timeline: []contracts.TimelineEntry{
			{Event: contracts.SubjectOrdersCreated, Status: contracts.StatusPending, At: t0},
			{Event: contracts.SubjectInventoryRejected, Status: contracts.StatusCancelled, At: t1, Detail: "sku-1 out of stock"},
		},
	}},
	{"cancel request", contracts.CancelOrderRequestV1, &contracts.CancelOrderRequest{OrderID: sampleOrderID}},
	{"cancel reply", contracts.CancelOrderReplyV1, &contracts.CancelOrderReply{OrderID: sampleOrderID, Status: contracts.StatusCancelled, Reason: contracts.ReasonCancelledByCustomer}},
	{"stock get request", contracts.GetStockRequestV1, &contracts.GetStockRequest{ProductID: "sku-1"}},
	{"stock set request", contracts.SetStockRequestV1, &contracts.SetStockRequest{ProductID: "sku-1", Quantity: 0, PriceCents: 1250}},
	{"stock reply", contracts.StockReplyV1, &contracts.StockReply{ProductID: "sku-1", Quantity: 98, PriceCents: 1250}},
	{"gateway get request", contracts.GetGatewayRequestV1, &contracts.GetGatewayRequest{}},
	{"gateway set request mode only", contracts.SetGatewayRequestV1, &contracts.SetGatewayRequest{Mode: contracts.GatewayDecline}},
	{"gateway set request full", contracts.SetGatewayRequestV1, &contracts.SetGatewayRequest{Mode: contracts.GatewayOK, FailureRate: ptr(0.0), LatencyMS: ptr(0)}},
	{"gateway reply", contracts.GatewayReplyV1, &contracts.GatewayReply{Mode: contracts.GatewayOutage, FailureRate: 0.25, LatencyMS: 150}},
	{"orders.created", contracts.OrderCreated, &contracts.OrderCreatedEvent{
		OrderID: sampleOrderID, CustomerID: "cust-42", Items: []contracts.OrderItem{{ProductID: "sku-1", Quantity: 2}}, CreatedAt: t0,
	}},
	{"orders.created with priority", contracts.OrderCreated, &contracts.OrderCreatedEvent{
		OrderID: sampleOrderID, CustomerID: "cust-42", Items: []contracts.OrderItem{{ProductID: "sku-1", Quantity: 2}}, CreatedAt: t0, Priority: "express",
	}},
	{"orders.cancelled", contracts.OrderCancelled, &contracts.OrderCancelledEvent{OrderID: sampleOrderID, Reason: contracts.ReasonPaymentDeclined}},
	{"orders.confirmed", contracts.OrderConfirmed, &contracts.OrderConfirmedEvent{OrderID: sampleOrderID, PaymentID: "pay-7", TotalCents: 2500}},
	{"inventory.reserved", contracts.InventoryReserved, &contracts.InventoryReservedEvent{
		OrderID: sampleOrderID, Items: []contracts.ReservedItem{{ProductID: "sku-1", Quantity: 2, UnitPriceCents: 1250}}, TotalCents: 2500,
	}},
	{"inventory.reserved.v2", contracts.InventoryReservedV2, &contracts.InventoryReservedEventV2{
		OrderID: sampleOrderID,
		Items: []contracts.ReservedItemV2{
			{ProductID: "sku-1", Quantity: 2, UnitPriceMoney: contracts.Money{Amount: 1250, Currency: "EUR"}},
			{ProductID: "free", Quantity: 1, UnitPriceMoney: contracts.Money{Amount: 0, Currency: "EUR"}},
		},
		TotalMoney: contracts.Money{Amount: 2500, Currency: "EUR"},
	}},
	{"inventory.rejected", contracts.InventoryRejected, &contracts.InventoryRejectedEvent{OrderID: sampleOrderID, Reason: contracts.ReasonUnknownProduct, ProductID: "sku-9"}},
	{"inventory.released", contracts.InventoryReleased, &contracts.InventoryReleasedEvent{
		OrderID: sampleOrderID, Items: []contracts.OrderItem{{ProductID: "sku-1", Quantity: 2}}, Cause: contracts.CausePaymentFailed,
	}},
	{"payments.completed", contracts.PaymentCompleted, &contracts.PaymentCompletedEvent{OrderID: sampleOrderID, PaymentID: "pay-7", AmountCents: 2500}},
	{"payments.failed", contracts.PaymentFailed, &contracts.PaymentFailedEvent{OrderID: sampleOrderID, Reason: contracts.FailureDeclined, AmountCents: 2500}},
	{"payments.refunded", contracts.PaymentRefunded, &contracts.PaymentRefundedEvent{OrderID: sampleOrderID, PaymentID: "pay-1", AmountCents: 2500}},
	{"payments.completed.v2", contracts.PaymentCompletedV2, &contracts.PaymentCompletedEventV2{OrderID: sampleOrderID, PaymentID: "pay-7", AmountMoney: contracts.Money{Amount: 2500, Currency: "JPY"}}},
	{"payments.failed.v2", contracts.PaymentFailedV2, &contracts.PaymentFailedEventV2{OrderID: sampleOrderID, Reason: contracts.FailureDeclined, AmountMoney: contracts.Money{Amount: 2500, Currency: "EUR"}}},
	{"payments.refunded.v2", contracts.PaymentRefundedV2, &contracts.PaymentRefundedEventV2{OrderID: sampleOrderID, PaymentID: "pay-1", AmountMoney: contracts.Money{Amount: 2500, Currency: "KWD"}}},
	// natsfn new: round trips
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range roundTrips {
		t.Run(tc.name, func(t *testing.T) {
			doc, err := json.Marshal(tc.value)
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if err := tc.schema.Validate(doc); err != nil {
				t.Fatalf("validate %s: %v", doc, err)
			}
			back := reflect.New(reflect.TypeOf(tc.value).Elem()).Interface()
			if err := json.Unmarshal(doc, back); err != nil {
				t.Fatalf("unmarshal: %v", err)
			}
			if !reflect.DeepEqual(back, tc.value) {
				t.Fatalf("round trip changed the value:\n got %#v\nwant %#v", back, tc.value)
			}
		})
	}
}

func TestEverySchemaHasARoundTrip(t *testing.T) {
	covered := map[string]bool{}
	for _, tc := range roundTrips {
		covered[tc.schema.ID()] = true
	}
	for _, s := range contracts.Schemas() {
		if !covered[s.ID()] {
			t.Errorf("schema %s has no round-trip sample", s.ID())
		}
	}
}

// A nil slice encodes as null, which the schemas refuse: producers must
// send empty arrays where an array is required.
func TestNilTimelineIsRefused(t *testing.T) {
	v := contracts.OrderView{
		OrderID: sampleOrderID, CustomerID: "c", Status: contracts.StatusPending,
		Items: []contracts.OrderViewItem{{ProductID: "p", Quantity: 1}}, CreatedAt: t0, UpdatedAt: t0,
	}
	doc, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := contracts.OrderViewV1.Validate(doc); err == nil {
		t.Fatal("a null timeline was accepted")
	}
	v.Timeline = []contracts.TimelineEntry{}
	if doc, err = json.Marshal(v); err != nil {
		t.Fatal(err)
	}
	if err := contracts.OrderViewV1.Validate(doc); err != nil {
		t.Fatalf("an empty timeline was refused: %v", err)
	}
}
