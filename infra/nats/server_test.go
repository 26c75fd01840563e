package nats_test

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nuid"
)

// externalURL, when set, points the permission tests at a running natsfn
// server or cluster instead of an in-process one, e.g. after `make up-nats`:
//
//	NATSFN_TEST_NATS_URL=nats://127.0.0.1:4222 NATSFN_TEST_REPLICAS=3 go test ./infra/nats/
const (
	externalURLEnv = "NATSFN_TEST_NATS_URL"
	replicasEnv    = "NATSFN_TEST_REPLICAS"
)

// testServer is the server under test: by default an in-process nats-server
// running a config of this directory on a random port, with JetStream in a
// temporary directory.
type testServer struct {
	url       string
	replicas  int
	passwords map[string]string
	run       string // unique per test: consumer names must not meet older runs'
	external  bool   // NATSFN_TEST_NATS_URL: a running cluster, whose functions may be live
}

// startServer runs nats-server.conf (the standalone config: the same accounts
// and permissions as the cluster) in-process, or uses the external server
// named by NATSFN_TEST_NATS_URL.
func startServer(t *testing.T) *testServer {
	t.Helper()
	opts := loadConfig(t, "nats-server.conf")
	ts := &testServer{replicas: 1, passwords: map[string]string{}, run: nuid.Next()}
	for _, u := range opts.Users {
		ts.passwords[u.Username] = u.Password
	}
	if url := os.Getenv(externalURLEnv); url != "" {
		ts.url, ts.external = url, true
		if n, err := strconv.Atoi(os.Getenv(replicasEnv)); err == nil && n > 0 {
			ts.replicas = n
		}
		return ts
	}
	opts.StoreDir = t.TempDir()
	ts.url = runServer(t, opts).ClientURL()
	return ts
}

// runServer runs a parsed config in-process on random loopback ports (no
// monitoring port, no log) until the test ends.
func runServer(t *testing.T, opts *server.Options) *server.Server {
	t.Helper()
	opts.Host, opts.Port, opts.HTTPPort = "127.0.0.1", -1, 0
	opts.NoLog, opts.NoSigs = true, true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	go srv.Start()
	t.Cleanup(func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	})
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("server not ready")
	}
	return srv
}

// client is a connection of one user that records the permission
// violations the server reports to it.
type client struct {
	*nats.Conn
	ts         *testServer
	mu         sync.Mutex
	violations []string
}

// inboxPrefix is the reply prefix a user's connections take, as the
// runtime's: "_INBOX_<user>" for every restricted user (functions and the
// console may subscribe to nothing else), nats.go's default for admin.
func inboxPrefix(user string) string {
	if user == "admin" || user == "sys" {
		return strings.TrimSuffix(nats.InboxPrefix, ".")
	}
	return "_INBOX_" + user
}

// connect connects as user with the password from the config and the
// user's own inbox prefix.
func (ts *testServer) connect(t *testing.T, user string) *client {
	t.Helper()
	return ts.connectWithInbox(t, user, inboxPrefix(user))
}

// connectWithInbox connects as user with the given inbox prefix.
func (ts *testServer) connectWithInbox(t *testing.T, user, prefix string) *client {
	t.Helper()
	c := &client{ts: ts}
	nc, err := nats.Connect(ts.url,
		nats.UserInfo(user, ts.passwords[user]),
		nats.Name("infra-test-"+user),
		nats.CustomInboxPrefix(prefix),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.violations = append(c.violations, err.Error())
		}),
	)
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	c.Conn = nc
	return c
}

// consumerName makes base unique to this test run.
func (c *client) consumerName(base string) string {
	return base + "-" + c.ts.run
}

// waitViolation waits until the server has reported a permission violation
// naming subject to this client.
func (c *client) waitViolation(t *testing.T, kind, subject string) {
	t.Helper()
	want := "permissions violation for " + strings.ToLower(kind) + " to \"" + strings.ToLower(subject) + "\""
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c.mu.Lock()
		for _, v := range c.violations {
			if strings.Contains(strings.ToLower(v), want) {
				c.mu.Unlock()
				return
			}
		}
		c.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t.Fatalf("no violation %q reported; got %q", want, c.violations)
}

// noViolations fails the test if the server refused anything to this client.
func (c *client) noViolations(t *testing.T) {
	t.Helper()
	if err := c.Flush(); err != nil {
		t.Fatalf("flush: %v", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.violations) > 0 {
		t.Fatalf("unexpected errors: %q", c.violations)
	}
}
