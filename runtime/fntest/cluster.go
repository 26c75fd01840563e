package fntest

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime"
)

// Cluster is three embedded JetStream servers in one cluster, on loopback,
// stopped when the test ends: for what a function does with replicated
// streams and buckets (Config.Replicas 3).
type Cluster struct {
	// Servers are the nodes, n1 to n3.
	Servers []*server.Server
	logs    *logTail
	errs    []*serverErrors
}

// NewCluster starts a three-node JetStream cluster and returns once every
// node accepts clients; its meta leader may take a few seconds more. via,
// if not nil, gives the address a node dials for another's route port
// route (a proxy that delays or cuts the link between them); the nodes
// then advertise no other address.
func NewCluster(t testing.TB, via func(route string) string) *Cluster {
	t.Helper()
	return newCluster(t, via, freePort)
}

// newCluster is NewCluster with the route ports from pick.
func newCluster(t testing.TB, via func(route string) string, pick func(testing.TB) int) *Cluster {
	t.Helper()
	// The route ports are picked by listening on port 0 and closing the
	// listener, so that every node can be told the others' ports before any
	// starts; another process can take one in between (the container suites
	// publish ports on loopback at the same time). A node that cannot bind
	// its route port says so at once, and the cluster starts again on new
	// ports.
	for attempt := 1; ; attempt++ {
		c, taken := startCluster(t, via, pick)
		if taken == "" {
			return c
		}
		if attempt == 3 {
			t.Fatalf("fntest: a node could not listen on three attempts, the last time: %s", taken)
		}
		t.Logf("fntest: a node could not listen (%s); starting the cluster again on new ports", taken)
	}
}

// startCluster starts the three nodes and waits until each accepts clients,
// or shuts them down and returns what a node said when it could not listen
// on its route port.
func startCluster(t testing.TB, via func(route string) string, pick func(testing.TB) int) (c *Cluster, taken string) {
	t.Helper()
	var ports []int
	var routes []*url.URL
	for range 3 {
		port := pick(t)
		ports = append(ports, port)
		addr := fmt.Sprintf("127.0.0.1:%d", port)
		if via != nil {
			addr = via(addr)
		}
		routes = append(routes, &url.URL{Scheme: "nats", Host: addr})
	}
	c = &Cluster{logs: newLogTail(t)}
	for i, port := range ports {
		s, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("n%d", i+1), Host: "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true,
			Cluster: server.ClusterOpts{Name: "fntest", Host: "127.0.0.1", Port: port, NoAdvertise: via != nil},
			Routes:  routes,
		})
		if err != nil {
			t.Fatalf("fntest: %v", err)
		}
		errs := &serverErrors{}
		s.SetLogger(errs, false, false)
		go s.Start()
		// Shutdown is idempotent: a node of an attempt that starts again
		// is shut down at once and once more here.
		t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
		c.Servers = append(c.Servers, s)
		c.errs = append(c.errs, errs)
	}
	shutdown := func() {
		for _, s := range c.Servers {
			s.Shutdown()
			s.WaitForShutdown()
		}
	}
	for i, s := range c.Servers {
		// A three-node cluster under CI's load (average 27) missed 10 s.
		for deadline := time.Now().Add(60 * time.Second); !s.ReadyForConnections(100 * time.Millisecond); {
			if taken := c.errs[i].bindFailed(); taken != "" {
				shutdown()
				return c, taken
			}
			if time.Now().After(deadline) {
				shutdown()
				t.Fatalf("fntest: %s not ready within 60s; its last warnings and errors: %s", s.Name(), c.errs[i].last())
			}
		}
	}
	return c, ""
}

// freePort is a loopback port that was free a moment ago.
func freePort(t testing.TB) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("fntest: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// serverErrors keeps a node's last warnings and errors, for the failure of
// a node that never became ready (a CI run saw one, and nothing said why).
type serverErrors struct {
	mu    sync.Mutex
	lines []string
}

func (e *serverErrors) add(format string, v ...any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.lines = append(e.lines, fmt.Sprintf(format, v...))
	if len(e.lines) > 10 {
		e.lines = e.lines[len(e.lines)-10:]
	}
}

// bindFailed is what the node said when it could not listen on a port,
// or "" if it did not.
func (e *serverErrors) bindFailed() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, l := range e.lines {
		if strings.HasPrefix(l, "Error listening on") {
			return l
		}
	}
	return ""
}

func (e *serverErrors) last() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.lines) == 0 {
		return "none"
	}
	return strings.Join(e.lines, "; ")
}

// The server.Logger methods: warnings, errors and fatal errors are kept.

func (e *serverErrors) Noticef(string, ...any)         {}
func (e *serverErrors) Warnf(format string, v ...any)  { e.add(format, v...) }
func (e *serverErrors) Fatalf(format string, v ...any) { e.add(format, v...) }
func (e *serverErrors) Errorf(format string, v ...any) { e.add(format, v...) }
func (e *serverErrors) Debugf(string, ...any)          {}
func (e *serverErrors) Tracef(string, ...any)          {}

// URLs is the nodes' client URLs, comma-separated, as NATS_URL takes them.
func (c *Cluster) URLs() string {
	urls := make([]string, len(c.Servers))
	for i, s := range c.Servers {
		urls[i] = s.ClientURL()
	}
	return strings.Join(urls, ",")
}

// Config is Server.Config for the cluster: every node's URL, and three
// replicas for the streams and buckets the services declare.
func (c *Cluster) Config(instance string) runtime.Config {
	return testConfig(c.URLs(), instance, 3, c.logs)
}

// Connect opens a client connection to the cluster, closed when the test
// ends.
func (c *Cluster) Connect(t testing.TB) *nats.Conn {
	t.Helper()
	return connect(t, c.URLs())
}

// JetStream returns the jetstream API on a fresh connection to the
// cluster.
func (c *Cluster) JetStream(t testing.TB) jetstream.JetStream {
	t.Helper()
	return newJetStream(t, c.Connect(t))
}
