package main

import (
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
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

// TestAllInOne is `make run`: the embedded server and every function come
// up, the banner says how to place an order, an order of the demo catalog
// is confirmed, and SIGINT stops it cleanly.
func TestAllInOne(t *testing.T) {
	t.Setenv("NATSFN_LOG_LEVEL", "warn")
	port := freePort(t)
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run([]string{"-port", fmt.Sprint(port), "-data", t.TempDir(), "-ops", "off"}, &stdout, &stderr)
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
