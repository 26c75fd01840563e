package scaffold

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/runtime/fntest"
)

// TestNewInACopy is `natsfn new` in a copy of this repository, as a user
// would run it: bad names are refused and leave the copy as it was, and so
// does a function that would not build; greet and then audit (by the
// command itself) are written, after which the copy builds and vets, their tests and those of the
// contracts, the infra and the all-in-one pass, `make -n images` builds
// their images, and `make run` serves them.
func TestNewInACopy(t *testing.T) {
	// The go commands in the copy inherit this process's environment, so
	// they build every module dependency with the flags `make vet` used
	// (the same directories in the module cache, the same cgo setting), and
	// find it in the build cache. Setting -trimpath here, which no earlier
	// step of `make test` uses, made them compile everything again: 197 s
	// for this test against 90 s on a quiet machine with the cache `make
	// vet` and `make images` leave, and 608 s in a CI run on a new machine.
	start := time.Now()
	step := func(what string) { t.Logf("%6.1fs %s", time.Since(start).Seconds(), what) }
	root := copyRepo(t)
	step("copied")

	refusals(t, root)
	step("refused")
	rolledBack(t, root)
	step("rolled back")

	res := newFunction(t, root, "greet")
	step("greet written")
	for _, p := range []string{"functions/greet/greet.go", "functions/greet/greet_test.go", "functions/greet/user_test.go",
		"functions/cmd/greet/main.go", "contracts/greet.go", "contracts/schemas/greet.processed/1.0.json"} {
		if !slices.Contains(res.Created, p) {
			t.Errorf("created %v, not %s", res.Created, p)
		}
	}
	for _, p := range []string{"contracts/asyncapi.yaml", "contracts/testdata/released.json", "infra/compose.yaml",
		"infra/infra.mk", "infra/nats/accounts.conf", "functions/cmd/natsfn/internal/all/all.go"} {
		if !slices.Contains(res.Modified, p) {
			t.Errorf("modified %v, not %s", res.Modified, p)
		}
	}
	before := snapshot(t, root)
	if _, err := New(t.Context(), Config{Root: root, Name: "greet"}); !errors.Is(err, ErrName) || !strings.Contains(err.Error(), "taken") {
		t.Fatalf("greet again: %v", err)
	}
	sameTree(t, root, before)
	// What the scaffold released is what the gate's own -release writes.
	goIn(t, root, "test", "-count=1", "-run", "^TestCompatibilityGate$", "./contracts/", "-release")
	sameTree(t, root, before)
	// The command, run as a user runs it; and the markers still work
	// after a first function.
	cmd := exec.Command("go", "run", "./functions/cmd/natsfn", "new", "audit")
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("natsfn new audit: %v\n%s%s", err, stdout.String(), stderr.String())
	}
	for _, want := range []string{"created:\n", "  functions/audit/audit.go\n", "  infra/nats/accounts.conf\n", "nats req audit.hello"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("natsfn new audit does not say %q:\n%s", want, stdout.String())
		}
	}
	step("audit written by natsfn new")

	goIn(t, root, "build", "./...")
	step("built")
	goIn(t, root, "vet", "./...")
	step("vetted")
	goIn(t, root, "test", "-count=1", "./functions/greet/...", "./functions/audit/...", "./contracts/...",
		"./infra/", "./infra/nats/", "./functions/cmd/natsfn/")
	step("tested")
	images(t, root, "greet", "audit")
	serves(t, root, "greet", "audit")
	step("served")
}

// refusals: bad names are refused with ErrName, saying why, and nothing
// is written; so is a name a registry lists, and a registry without its
// marker stops the scaffold before it writes.
func refusals(t *testing.T, root string) {
	t.Helper()
	before := snapshot(t, root)
	for _, c := range []struct{ name, why string }{
		{"", "needs a name"},
		{"orders", "taken: functions/orders exists"},
		{"console", "taken: functions/console exists"},
		{"scaffold", "taken: functions/scaffold exists"},
		{"Bad.Name", "not a valid subject token"},
		{"a b", "not a valid subject token"},
		{"orders.>", "not a valid subject token"},
		{"Greet", "lowercase letters and digits"},
		{"my-fn", "lowercase letters and digits"},
		{"func", "Go keyword"},
		{"runtime", "reserved"},
		{"deadletter", "reserved"},
	} {
		_, err := New(t.Context(), Config{Root: root, Name: c.name})
		if !errors.Is(err, ErrName) || !strings.Contains(err.Error(), c.why) {
			t.Errorf("%q: %v; want ErrName saying %q", c.name, err, c.why)
		}
	}
	sameTree(t, root, before)

	edit(t, root, "infra/infra.mk", func(s string) string {
		return strings.Replace(s, "# natsfn new: functions", "INFRA_FUNCTIONS += shop\n# natsfn new: functions", 1)
	}, func(before tree) {
		_, err := New(t.Context(), Config{Root: root, Name: "shop"})
		if !errors.Is(err, ErrName) || !strings.Contains(err.Error(), `"shop" is taken: infra/infra.mk lists it`) {
			t.Errorf("shop in INFRA_FUNCTIONS: %v", err)
		}
		sameTree(t, root, before)
	})
	edit(t, root, "infra/compose.tls.yaml", func(s string) string {
		return strings.Replace(s, "# natsfn new: services", "# services", 1)
	}, func(before tree) {
		_, err := New(t.Context(), Config{Root: root, Name: "shop"})
		if err == nil || errors.Is(err, ErrName) || !strings.Contains(err.Error(), `infra/compose.tls.yaml has no marker line "natsfn new: services"`) {
			t.Errorf("no marker: %v", err)
		}
		sameTree(t, root, before)
	})
	if _, err := New(t.Context(), Config{Root: filepath.Join(root, "infra"), Name: "shop"}); err == nil || !strings.Contains(err.Error(), "not the root") {
		t.Errorf("outside the root: %v", err)
	}
}

// rolledBack: a function the checks find broken (here, one of its Go
// names is taken in contracts) is written, checked, and undone.
func rolledBack(t *testing.T, root string) {
	t.Helper()
	edit(t, root, "contracts/zz_clash.go", func(string) string {
		return "package contracts\n\n// GreetProcessed is taken, for a test.\nconst GreetProcessed = 1\n"
	}, func(before tree) {
		_, err := New(t.Context(), Config{Root: root, Name: "greet"})
		if err == nil || errors.Is(err, ErrName) || !strings.Contains(err.Error(), "GreetProcessed") ||
			!strings.Contains(err.Error(), "nothing was written") {
			t.Errorf("a clash in contracts: %v", err)
		}
		sameTree(t, root, before)
	})
}

// edit changes a file of root (creating it if need be), runs check with a
// snapshot of the edited tree, and puts the file back.
func edit(t *testing.T, root, p string, change func(string) string, check func(tree)) {
	t.Helper()
	full := filepath.Join(root, p)
	old, err := os.ReadFile(full)
	existed := err == nil
	if err := os.WriteFile(full, []byte(change(string(old))), 0o644); err != nil {
		t.Fatal(err)
	}
	check(snapshot(t, root))
	if existed {
		err = os.WriteFile(full, old, 0o644)
	} else {
		err = os.Remove(full)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// newFunction scaffolds name into root, logging the checks' steps.
func newFunction(t *testing.T, root, name string) Result {
	t.Helper()
	var log bytes.Buffer
	res, err := New(t.Context(), Config{Root: root, Name: name, Log: &log})
	if err != nil {
		t.Fatalf("natsfn new %s: %v\n%s", name, err, log.String())
	}
	if !strings.Contains(log.String(), "go vet") {
		t.Errorf("the checks did not run: %q", log.String())
	}
	return res
}

// goIn runs the go command in root and fails the test with its output.
func goIn(t *testing.T, root string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// images: `make -n images` builds each function's binary and image and
// checks its size.
func images(t *testing.T, root string, names ...string) {
	t.Helper()
	cmd := exec.Command("make", "-n", "images")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n images: %v\n%s", err, out)
	}
	for _, name := range names {
		for _, want := range []string{"-o bin/linux/" + name + " ./functions/cmd/" + name, "-t natsfn/" + name + ":",
			"for fn in orders inventory payments greet audit;"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("make -n images does not run %q:\n%s", want, out)
			}
		}
	}
}

// serves: `make run` starts the all-in-one with the new functions: the
// banner names them, micro discovery lists them, their endpoint answers,
// and an order placed reaches their event handler.
func serves(t *testing.T, root string, names ...string) {
	t.Helper()
	ports := freePorts(t, 2)
	port, ops := ports[0], ports[1]
	cmd := exec.Command("make", "run", fmt.Sprint("NATS_PORT=", port), "DATA_DIR="+t.TempDir(), fmt.Sprint("OPS_ADDR=127.0.0.1:", ops))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "NATSFN_LOG_LEVEL=warn")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // make, go run and natsfn: stopped together
	var out fntest.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		select {
		case <-exited:
		case <-time.After(30 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			t.Errorf("make run still running 30s after SIGINT:\n%s", out.String())
		}
	}()
	banner := "natsfn is up: orders, inventory, payments, " + strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
	fntest.Eventually(t, 3*time.Minute, "make run's banner", func() bool {
		select {
		case err := <-exited:
			t.Fatalf("make run exited (%v):\n%s", err, out.String())
		default:
		}
		return strings.Contains(out.String(), banner)
	})

	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var listed map[string]micro.Info
	fntest.Eventually(t, 15*time.Second, "$SRV.INFO to list "+strings.Join(names, " and "), func() bool {
		listed = discover(t, nc)
		for _, name := range append([]string{"orders", "inventory", "payments"}, names...) {
			if _, ok := listed[name]; !ok {
				return false
			}
		}
		return true
	})
	for _, name := range names {
		info := listed[name]
		var subjects []string
		for _, e := range info.Endpoints {
			subjects = append(subjects, e.Subject)
		}
		if !slices.Contains(subjects, name+".hello") || !slices.Contains(subjects, name+".events.process") {
			t.Errorf("%s serves %v", name, subjects)
		}
		body, code := fntest.Request(t, nc, name+".hello", []byte(`{"name":"gopher"}`))
		if code != "" || string(body) != `{"text":"hello, gopher"}` {
			t.Errorf("%s.hello: %s %s", name, code, body)
		}
	}
	if body, code := fntest.Request(t, nc, "orders.create", []byte(`{"customer_id":"c-1","items":[{"product_id":"sku-1","quantity":2}]}`)); code != "" {
		t.Fatalf("orders.create: %s %s", code, body)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		fntest.Eventually(t, 15*time.Second, name+".processed", func() bool {
			return len(fntest.Messages(t, js, strings.ToUpper(name), name+".processed")) == 1
		})
	}
}

// discover asks every micro service for its info, as `nats micro ls` does,
// and returns the replies that come within half a second, by service name.
func discover(t *testing.T, nc *nats.Conn) map[string]micro.Info {
	t.Helper()
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest("$SRV.INFO", inbox, nil); err != nil {
		t.Fatal(err)
	}
	out := map[string]micro.Info{}
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	for {
		m, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return out // no more replies in time
		}
		var info micro.Info
		if err := json.Unmarshal(m.Data, &info); err != nil {
			t.Fatalf("$SRV.INFO reply %s: %v", m.Data, err)
		}
		out[info.Name] = info
	}
}

// freePorts returns n distinct free ports: every listener stays open until
// all are picked, since one closed at once may be handed out again (a CI
// run got the same port for NATS and the ops server).
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports
}
