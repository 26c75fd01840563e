package runtime_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime"
)

// TestInProcessServer runs a function on a JetStream server that listens on
// no port at all, connected through Config.InProcessServer: it starts,
// makes the stream it declares and answers a request; the same config without it finds
// no server.
func TestInProcessServer(t *testing.T) {
	s, err := server.NewServer(&server.Options{DontListen: true, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	if !s.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	// NATSURL names a port the test holds and no server answers on.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	cfg := runtime.Config{NATSURL: "nats://" + silent.Addr().String(), InstanceID: "inproc", ConnectTimeout: time.Second, Logger: quietLogger()}

	if inst, err := runtime.Start(context.Background(), cfg, echoService(1)); err == nil {
		_ = inst.Stop()
		t.Fatal("Start without InProcessServer found a server: the test's server should listen on no port")
	}

	cfg.InProcessServer = s
	cfg.ConnectTimeout = 10 * time.Second
	svc := echoService(1)
	svc.Stream(jetstream.StreamConfig{Name: "INPROC", Subjects: []string{"inproc.>"}})
	inst, err := runtime.Start(context.Background(), cfg, svc)
	if err != nil {
		t.Fatalf("Start in process: %v", err)
	}
	t.Cleanup(func() { _ = inst.Stop() })
	nc, err := nats.Connect("", nats.InProcessServer(s))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	reply, err := nc.Request("echo.say", []byte(`{"msg":"in process"}`), 2*time.Second)
	if err != nil || !strings.Contains(string(reply.Data), "in process") {
		t.Fatalf("echo in process: %v %s", err, reply.Data)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Stream(context.Background(), "INPROC"); err != nil {
		t.Fatalf("the stream the function declares: %v", err)
	}
}
