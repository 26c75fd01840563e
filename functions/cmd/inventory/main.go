// Command inventory runs the natsfn inventory function: stock and prices,
// and the stock side of the order saga. It reads its settings from the
// environment (NATS_URL, NATSFN_*, and INVENTORY_SEED=demo to create the
// demo catalog's products that do not exist yet); `inventory healthcheck`
// probes a running instance's ops port.
package main

import (
	"fmt"
	"os"

	"github.com/caarlos0/env/v11"

	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/runtime"
)

// settings are the inventory binary's own variables.
type settings struct {
	// Seed is "demo" to seed inventory.DemoCatalog, or empty for none.
	Seed string `env:"INVENTORY_SEED"`
}

func main() {
	s, err := env.ParseAs[settings]()
	if err == nil && s.Seed != "" && s.Seed != "demo" {
		err = fmt.Errorf("INVENTORY_SEED: %q is not \"demo\" or empty", s.Seed)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "inventory:", err)
		os.Exit(2)
	}
	cfg := inventory.Config{}
	if s.Seed == "demo" {
		cfg.Seed = inventory.DemoCatalog()
	}
	runtime.Main(inventory.New(cfg))
}
