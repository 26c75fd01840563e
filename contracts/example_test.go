package contracts_test

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/natsfn/natsfn/contracts"
)

func Example() {
	// A producer builds a typed value and checks it against its schema.
	req := contracts.CreateOrderRequest{
		CustomerID: "cust-42",
		Items:      []contracts.OrderItem{{ProductID: "sku-1", Quantity: 2}},
	}
	doc, _ := json.Marshal(req)
	fmt.Println(contracts.CreateOrderRequestV1.ID(), contracts.CreateOrderRequestV1.Validate(doc))

	// A bad document gets a one-line error that wraps ErrInvalid.
	err := contracts.CreateOrderRequestV1.Validate([]byte(`{"customer_id":"cust-42","items":[{"product_id":"sku-1","quantity":0}]}`))
	fmt.Println(errors.Is(err, contracts.ErrInvalid))
	fmt.Println(err)

	// An event knows its subject, its stream and its schema.
	ev := contracts.OrderCreated
	fmt.Println(ev.Subject(), ev.Stream(), ev.ID())
	// Output:
	// orders.create.request.v1 <nil>
	// true
	// orders.create.request.v1: at '/items/0/quantity': must be >= 1
	// orders.created ORDERS orders.created.v1
}

func ExampleStreams() {
	// The saga's streams; a function made with `natsfn new` adds its own
	// after them.
	for _, s := range contracts.Streams()[:3] {
		fmt.Println(s.Name, s.Subjects)
	}
	// Output:
	// ORDERS [orders.created orders.cancelled orders.confirmed]
	// INVENTORY [inventory.reserved inventory.reserved.v2 inventory.rejected inventory.released]
	// PAYMENTS [payments.completed payments.completed.v2 payments.failed payments.failed.v2 payments.refunded payments.refunded.v2]
}

func ExampleLookup() {
	// The id of a major finds its latest minor; the URI of an exact
	// version, as in an event's ce-dataschema, finds that version.
	latest, _ := contracts.Lookup("orders.created.v1")
	exact, _ := contracts.Lookup("https://natsfn.dev/schemas/orders.created/1.0.json")
	fmt.Println(latest, latest.Version(), latest.URI())
	fmt.Println(exact, exact.Version())
	// Output:
	// orders.created.v1 1.1 https://natsfn.dev/schemas/orders.created/1.1.json
	// orders.created.v1 1.0
}

func ExampleEvent_ValidateReceived() {
	// A consumer built before orders.created 1.2 existed reads an event of
	// it: the property it does not know is ignored, the ones it knows are
	// checked.
	doc := []byte(`{"order_id":"o-1","customer_id":"c-1","items":[{"product_id":"sku-1","quantity":2}],` +
		`"created_at":"2025-11-26T09:30:00Z","gift_wrap":true}`)
	newer := "https://natsfn.dev/schemas/orders.created/1.2.json"
	fmt.Println(contracts.OrderCreated.ValidateReceived(newer, doc))

	// The producer of that event checks it strictly against its own version.
	fmt.Println(contracts.OrderCreated.Validate(doc))
	// Output:
	// <nil>
	// orders.created.v1: at '/gift_wrap': is not allowed
}

func ExampleEvent_Convert() {
	// A consumer of major 2 reads a major 1 event: upcast.
	v1 := []byte(`{"order_id":"o-1","items":[{"product_id":"sku-1","quantity":2,"unit_price_cents":1999}],"total_cents":3998}`)
	v2, err := contracts.InventoryReserved.Convert(v1, contracts.InventoryReservedV2.Major())
	fmt.Println(string(v2), err)

	// A producer of major 2 derives major 1 for the consumers that have
	// not moved yet: downcast, refused for a currency major 1 cannot say.
	back, err := contracts.InventoryReservedV2.Convert(v2, 1)
	fmt.Println(string(back), err)
	// Output:
	// {"order_id":"o-1","items":[{"product_id":"sku-1","quantity":2,"unit_price_money":{"amount":1999,"currency":"EUR"}}],"total_money":{"amount":3998,"currency":"EUR"}} <nil>
	// {"order_id":"o-1","items":[{"product_id":"sku-1","quantity":2,"unit_price_cents":1999}],"total_cents":3998} <nil>
}
