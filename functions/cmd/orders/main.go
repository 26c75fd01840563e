// Command orders runs the orders function alone: it connects to NATS as the
// environment says (see runtime.LoadConfig) and serves until SIGTERM.
// `orders healthcheck` probes the ops port, for a container HEALTHCHECK.
package main

import (
	"github.com/natsfn/natsfn/functions/orders"
	"github.com/natsfn/natsfn/runtime"
)

func main() {
	runtime.Main(orders.New(orders.Config{}))
}
