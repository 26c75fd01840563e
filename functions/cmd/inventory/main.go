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
	cfg, err := config()
	if err != nil {
		fmt.Fprintln(os.Stderr, "inventory:", err)
		os.Exit(2)
	}
	runtime.Main(inventory.New(cfg))
}

// config reads INVENTORY_SEED into the function's config.
func config() (inventory.Config, error) {
	s, err := env.ParseAs[settings]()
	if err != nil {
		return inventory.Config{}, err
	}
	switch s.Seed {
	case "":
		return inventory.Config{}, nil
	case "demo":
		return inventory.Config{Seed: inventory.DemoCatalog()}, nil
	}
	return inventory.Config{}, fmt.Errorf("INVENTORY_SEED: %q is not \"demo\" or empty", s.Seed)
}
