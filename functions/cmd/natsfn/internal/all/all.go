// Package all lists the functions the all-in-one (`make run`) runs.
// `natsfn new <name>` adds its function here, at the markers, so that
// `make run` serves it at once; delete a function's two lines to stop
// running it. A package of its own, so that no function's name can clash
// with a name of the command.
package all

import (
	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/functions/orders"
	"github.com/natsfn/natsfn/functions/payments"
	"github.com/natsfn/natsfn/runtime"
	// natsfn new: imports
)

// Services declares the functions, in the order the banner names them.
func Services() []*runtime.Service {
	return []*runtime.Service{
		orders.New(orders.Config{}),
		inventory.New(inventory.Config{Seed: inventory.DemoCatalog()}),
		payments.New(payments.Config{}),
		// natsfn new: services
	}
}
