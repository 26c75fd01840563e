package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/functions/cmd/natsfn/internal/all"
	"github.com/natsfn/natsfn/functions/inventory"
	"github.com/natsfn/natsfn/functions/orders"
	"github.com/natsfn/natsfn/functions/payments"
	"github.com/natsfn/natsfn/runtime/fntest"
)

// syncBuffer captures logs written concurrently.
type syncBuffer = fntest.Buffer

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestAllInOne is `make run`: the embedded server and every function of
// package all come up, the banner says how to place an order and where the
// console is, an order of the demo catalog is confirmed, the console on the
// ops port shows every function, and SIGINT stops it cleanly.
func TestAllInOne(t *testing.T) {
	t.Setenv("NATSFN_LOG_LEVEL", "warn")
	port := freePort(t)
	opsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"-port", fmt.Sprint(port), "-data", t.TempDir(), "-ops", opsAddr}, &stdout, &stderr)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(stdout.String(), "natsfn is up") {
		select {
		case code := <-done:
			t.Fatalf("exited with %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no banner; stderr: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(stdout.String(), "nats req orders.create") {
		t.Fatalf("banner does not say how to place an order:\n%s", stdout.String())
	}
	if !strings.Contains(stdout.String(), "console: http://"+opsAddr+"/console/") {
		t.Fatalf("banner does not say where the console is:\n%s", stdout.String())
	}
	var running []string // every function of package all, as the console sorts them
	for _, svc := range all.Services() {
		running = append(running, svc.Name())
	}
	slices.Sort(running)
	waitConsole(t, "http://"+opsAddr+"/console/", running...)

	nc, err := nats.Connect(fmt.Sprintf("nats://127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	m, err := nc.Request("orders.create", []byte(`{"customer_id":"c-1","items":[{"product_id":"sku-1","quantity":2}]}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var created struct {
		OrderID string `json:"order_id"`
	}
	if err := json.Unmarshal(m.Data, &created); err != nil || created.OrderID == "" {
		t.Fatalf("create: %s", m.Data)
	}
	for status := ""; status != "confirmed"; {
		if time.Now().After(deadline) {
			t.Fatalf("order still %q", status)
		}
		m, err := nc.Request("orders.get", []byte(`{"order_id":"`+created.OrderID+`"}`), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			Status string `json:"status"`
		}
		_ = json.Unmarshal(m.Data, &v)
		status = v.Status
		time.Sleep(20 * time.Millisecond)
	}

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d after SIGINT: %s", code, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("still running 30s after SIGINT")
	}
}

// waitConsole waits until the console at url lists the functions.
func waitConsole(t *testing.T, url string, functions ...string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var sys struct {
			Functions []struct {
				Name string `json:"name"`
			} `json:"functions"`
		}
		var names []string
		resp, err := http.Get(url + "api/system")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&sys)
			resp.Body.Close()
			for _, f := range sys.Functions {
				names = append(names, f.Name)
			}
			if slices.Equal(names, functions) {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the console at %s lists %v (%v), want %v", url, names, err, functions)
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	page, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "natsfn <span>console</span>") {
		t.Fatalf("console page: %d\n%s", resp.StatusCode, page)
	}
}

// TestConsoleMode is `natsfn console` against a NATS where the flow runs:
// it serves the console at NATSFN_CONSOLE_ADDR, answers the health check
// there, and stops on SIGINT.
func TestConsoleMode(t *testing.T) {
	srv := fntest.NewServer(t)
	fntest.Run(t, srv,
		orders.New(orders.Config{}),
		inventory.New(inventory.Config{Seed: inventory.DemoCatalog()}),
		payments.New(payments.Config{}),
	)
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	t.Setenv("NATS_URL", srv.ClientURL())
	t.Setenv("NATSFN_CONSOLE_ADDR", addr)
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() { done <- run([]string{"console"}, &stdout, &stderr) }()
	waitConsole(t, "http://"+addr+"/", "inventory", "orders", "payments")
	if !strings.Contains(stdout.String(), "natsfn console on http://"+addr+"/") {
		t.Fatalf("stdout: %q", stdout.String())
	}
	// The image's health check probes these (NATSFN_OPS_ADDR = the console's address).
	t.Setenv("NATSFN_OPS_ADDR", addr)
	if code := run([]string{"healthcheck", "ready"}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("healthcheck ready of the console: exit %d", code)
	}
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit code %d after SIGINT: %s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("still running 15s after SIGINT")
	}
}

// TestConsoleBadEnv: a bad setting stops `natsfn console` with status 2
// and a message naming the variable.
func TestConsoleBadEnv(t *testing.T) {
	for _, c := range []struct{ name, value string }{
		{"NATSFN_CONSOLE_TIMEOUT", "soon"},
		{"NATSFN_CONSOLE_TIMEOUT", "-1s"},
		{"NATSFN_CONSOLE_ADDR", "8090"},
		{"NATS_PASSWORD", "secret"},
		{"NATS_CREDS", "/no/such/file.creds"},
		{"NATS_URL", " "},
	} {
		t.Run(c.name+"="+c.value, func(t *testing.T) {
			t.Setenv(c.name, c.value)
			var stdout, stderr syncBuffer
			code := run([]string{"console"}, &stdout, &stderr)
			want := c.name
			if c.name == "NATS_PASSWORD" {
				want = "NATS_USER" // the one missing
			}
			if code != 2 || !strings.Contains(stderr.String(), want) {
				t.Fatalf("exit %d, stderr %q; want 2 naming %s", code, stderr.String(), want)
			}
		})
	}
	var stdout, stderr syncBuffer
	if code := run([]string{"console", "extra"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "no arguments") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}

func TestBadFlags(t *testing.T) {
	var stdout, stderr syncBuffer
	if code := run([]string{"-port", "70000"}, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "-port") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
	t.Setenv("NATSFN_LOG_LEVEL", "loud")
	if code := run(nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "NATSFN_LOG_LEVEL") {
		t.Fatalf("exit %d, stderr %q", code, stderr.String())
	}
}
