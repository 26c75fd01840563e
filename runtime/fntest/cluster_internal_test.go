package fntest

import (
	"net"
	"strings"
	"testing"
	"time"
)

// TestClusterStartsAgainWhenARoutePortIsTaken: a route port taken between
// its pick and the node's bind (as another process on loopback can) makes
// the cluster start again on new ports, not wait a minute and fail.
func TestClusterStartsAgainWhenARoutePortIsTaken(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	picks := 0
	c := newCluster(t, nil, func(t testing.TB) int {
		picks++
		if picks == 2 {
			return held.Addr().(*net.TCPAddr).Port
		}
		return freePort(t)
	})
	if picks != 6 {
		t.Fatalf("%d ports picked, want 6: three for an attempt that met the taken port, three for the next", picks)
	}
	for _, s := range c.Servers {
		if !s.ReadyForConnections(time.Second) {
			t.Fatalf("%s is not ready", s.Name())
		}
	}
	if nc := c.Connect(t); !strings.HasPrefix(nc.ConnectedUrl(), "nats://127.0.0.1:") {
		t.Fatalf("connected to %q", nc.ConnectedUrl())
	}
}
