package containers

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// microDiscovery asks the real nats CLI what runs on s, as an operator
// would: `nats micro ls` lists both instances of every function, and
// `nats micro stats <fn> --json` shows the work they did in the event
// handlers' figures.
func microDiscovery(t *testing.T, s *stack) {
	f := s.admin
	f.setStock("sku-a", 100, 500)
	const placed = 10
	var ids []string
	for range placed {
		ids = append(ids, f.place("c-micro", item("sku-a", 1)))
	}
	for id, v := range f.settle(30*time.Second, ids...) {
		if v.Status != contracts.StatusConfirmed {
			t.Fatalf("order %s: %+v", id, v)
		}
	}
	nats := s.natsCLI(t)

	table := nats("micro", "ls")
	for _, fn := range functionNames {
		if !strings.Contains(table, fn) {
			t.Errorf("`nats micro ls` does not list %s:\n%s", fn, table)
		}
	}
	var infos []micro.Info
	if err := json.Unmarshal([]byte(nats("micro", "ls", "--json")), &infos); err != nil {
		t.Fatalf("nats micro ls --json: %v", err)
	}
	instances := map[string][]string{}
	for _, in := range infos {
		instances[in.Name] = append(instances[in.Name], in.Metadata["instance"])
	}
	for _, fn := range functionNames {
		got := instances[fn]
		sort.Strings(got)
		if want := []string{fn + "-1", fn + "-2"}; strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("nats micro ls: %s instances %v, want %v", fn, got, want)
		}
	}

	// Each handler's work, summed over its instances, covers every order.
	for _, c := range []struct{ fn, endpoint string }{
		{"inventory", "reserve"},
		{"payments", "charge"},
		{"orders", "payment-completed"},
	} {
		var stats []micro.Stats
		if err := json.Unmarshal([]byte(nats("micro", "stats", c.fn, "--json")), &stats); err != nil {
			t.Fatalf("nats micro stats %s --json: %v", c.fn, err)
		}
		if len(stats) != 2 {
			t.Errorf("nats micro stats %s: %d instances, want 2", c.fn, len(stats))
		}
		var acked int64
		for _, st := range stats {
			fig, ok := eventFigures(st, c.endpoint)
			if !ok {
				t.Fatalf("nats micro stats %s: %s has no event figures for %s", c.fn, st.Metadata["instance"], c.endpoint)
			}
			acked += fig.Acked
		}
		t.Logf("%s %s: %d acked over 2 instances", c.fn, c.endpoint, acked)
		if acked < placed {
			t.Errorf("%s %s acked %d events, want >= %d (orders placed)", c.fn, c.endpoint, acked, placed)
		}
	}
}

// natsCLI returns a runner for the real nats CLI as the admin user against
// one node's client port; it fails the test on a non-zero exit.
func (s *stack) natsCLI(t *testing.T) func(args ...string) string {
	t.Helper()
	bin := fntest.NatsCLI(t)
	url, err := s.nodes[0].clientURL(s.ctx)
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	return func(args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		full := append([]string{"--server", url, "--user", "admin", "--password", "admin-demo-password"}, args...)
		cmd := exec.CommandContext(ctx, bin, full...)
		cmd.Env = append(os.Environ(), "NATS_CONTEXT=", "HOME="+home)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("nats %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), stderr.String())
		}
		return stdout.String()
	}
}
