package main

import (
	"strings"
	"testing"
)

func TestSeedSetting(t *testing.T) {
	t.Setenv("INVENTORY_SEED", "")
	if cfg, err := config(); err != nil || len(cfg.Seed) != 0 {
		t.Fatalf("unset: %v %v", cfg.Seed, err)
	}
	t.Setenv("INVENTORY_SEED", "demo")
	if cfg, err := config(); err != nil || len(cfg.Seed) == 0 {
		t.Fatalf("demo: %v %v", cfg.Seed, err)
	}
	t.Setenv("INVENTORY_SEED", "everything")
	if _, err := config(); err == nil || !strings.Contains(err.Error(), "INVENTORY_SEED") {
		t.Fatalf("bad value: %v", err)
	}
}
