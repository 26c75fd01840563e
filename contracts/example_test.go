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
	for _, s := range contracts.Streams() {
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
