// Command pinger is TestColdStart's baseline: the least a NATS micro
// service can do, built static and run FROM scratch like a function. It
// connects with NATS_URL, NATS_USER and NATS_PASSWORD, registers the micro
// service NATSFN_PINGER_NAME with metadata instance=NATSFN_INSTANCE_ID, and
// answers until SIGTERM.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

func main() {
	nc, err := nats.Connect(os.Getenv("NATS_URL"), nats.UserInfo(os.Getenv("NATS_USER"), os.Getenv("NATS_PASSWORD")))
	if err != nil {
		fmt.Fprintln(os.Stderr, "pinger:", err)
		os.Exit(1)
	}
	_, err = micro.AddService(nc, micro.Config{Name: os.Getenv("NATSFN_PINGER_NAME"), Version: "1.0.0",
		Metadata: map[string]string{"instance": os.Getenv("NATSFN_INSTANCE_ID")}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "pinger:", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	_ = nc.Drain()
}
