// Command inventory runs the natsfn inventory function: stock and prices,
// and the stock side of the order saga. It reads its settings from the
// environment (NATS_URL, NATSFN_*); `inventory healthcheck` probes a
// running instance's ops port.
package main

import (
	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/runtime"
)

func main() {
	runtime.Main(inventory.New(inventory.Config{}))
}
