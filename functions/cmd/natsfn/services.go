package main

import (
	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/functions/orders"
	"github.com/natsfn/natsfn/functions/payments"
	"github.com/natsfn/natsfn/runtime"
	// natsfn new: imports
)

// services declares the functions the all-in-one runs, in the order its
// banner names them. `natsfn new <name>` adds its function here, at the
// markers, so that `make run` serves it at once; delete a function's two
// lines to stop running it.
func services() []*runtime.Service {
	return []*runtime.Service{
		orders.New(orders.Config{}),
		inventory.New(inventory.Config{Seed: inventory.DemoCatalog()}),
		payments.New(payments.Config{}),
		// natsfn new: services
	}
}
