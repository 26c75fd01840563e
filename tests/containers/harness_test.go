package containers

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	mobynet "github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/network"
)

// projectLabel marks everything the suites create, for `make sweep`.
var projectLabel = map[string]string{"io.natsfn.project": "natsfn"}

// requireDocker skips the test when TestMain found no Docker engine: the
// one reason a container suite may skip.
func requireDocker(t *testing.T) {
	t.Helper()
	if dockerMissing != "" {
		t.Skip(dockerMissing)
	}
}

// stack is one test's world: a user-defined network, a 3-node NATS cluster
// and function containers. Everything in it is removed when the test ends,
// failed or not.
type stack struct {
	t      *testing.T
	ctx    context.Context
	docker client.APIClient
	net    *testcontainers.DockerNetwork
	nodes  []*natsNode
	fns    map[string][]*function
	admin  *flow

	mu           sync.Mutex
	startupExits []startupExit
}

// newStack starts a network, the NATS cluster and `replicas` instances of
// every function, seeds nothing, and returns once every function is ready
// and the admin client is connected. The functions start once JetStream
// is healthy on every node, as `make up` does.
func newStack(t *testing.T, replicas int) *stack {
	t.Helper()
	return newStackWith(t, stackConfig{replicas: replicas})
}

// stackConfig shapes a stack.
type stackConfig struct {
	// replicas is how many instances of every function run.
	replicas int
	// bootTogether starts the functions as soon as the NATS processes
	// listen, while the cluster still elects its meta leader, as
	// `docker-compose up` of everything or a Kubernetes rollout does.
	bootTogether bool
}

func newStackWith(t *testing.T, cfg stackConfig) *stack {
	t.Helper()
	requireDocker(t)
	s := &stack{t: t, ctx: context.Background(), fns: map[string][]*function{}}
	p, err := testcontainers.NewDockerProvider(testcontainers.WithLogger(tclog.TestLogger(t)))
	if err != nil {
		t.Fatalf("docker provider: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	s.docker = p.Client()

	nw, err := network.New(s.ctx, network.WithLabels(projectLabel))
	if err != nil {
		t.Fatalf("network: %v", err)
	}
	t.Cleanup(func() {
		if err := nw.Remove(context.Background()); err != nil {
			t.Errorf("remove network %s: %v", nw.Name, err)
		}
	})
	s.net = nw

	start := time.Now()
	s.startNodes()
	if !cfg.bootTogether {
		s.waitClusterHealthy(60 * time.Second)
		t.Logf("NATS cluster ready in %s", time.Since(start).Round(time.Millisecond))
	}
	var specs []functionSpec
	for _, fn := range functionNames {
		for i := 1; i <= cfg.replicas; i++ {
			specs = append(specs, functionSpec{name: fn, instance: fmt.Sprintf("%s-%d", fn, i)})
		}
	}
	if len(specs) > 0 {
		start := time.Now()
		s.startFunctions(specs...)
		t.Logf("%d function containers ready in %s", len(specs), time.Since(start).Round(time.Millisecond))
	}
	if cfg.bootTogether {
		s.waitClusterHealthy(60 * time.Second)
	}
	s.admin = s.connect("admin", "admin-demo-password")
	return s
}

// own registers the container's removal (and, when the test failed, a dump
// of its log) with the test. It runs even when the container never became
// ready.
func (s *stack) own(c *testcontainers.DockerContainer, name string) {
	if c == nil {
		return
	}
	s.t.Cleanup(func() {
		if s.t.Failed() || os.Getenv("NATSFN_TEST_LOGS") != "" {
			s.dumpLogs(c, name)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := c.Terminate(ctx, testcontainers.StopTimeout(0)); err != nil {
			s.t.Errorf("remove container %s: %v", name, err)
		}
	})
}

// dumpLogs prints a container's log: the last 80 lines, or all of it with
// NATSFN_TEST_LOGS=1.
func (s *stack) dumpLogs(c *testcontainers.DockerContainer, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rc, err := c.Logs(ctx)
	if err != nil {
		s.t.Logf("logs of %s: %v", name, err)
		return
	}
	defer rc.Close()
	keep := 80
	if os.Getenv("NATSFN_TEST_LOGS") != "" {
		keep = 1 << 30
	}
	var lines []string
	sc := bufio.NewScanner(io.LimitReader(rc, 64<<20))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > keep {
			lines = lines[1:]
		}
	}
	s.t.Logf("---- log of %s (last %d lines) ----\n%s", name, len(lines), strings.Join(lines, "\n"))
}

// loopbackPorts binds every exposed port to a random port on 127.0.0.1
// only: test traffic stays on loopback.
func loopbackPorts(ports ...string) testcontainers.CustomizeRequestOption {
	return testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
		if hc.PortBindings == nil {
			hc.PortBindings = mobynet.PortMap{}
		}
		for _, p := range ports {
			hc.PortBindings[mobynet.MustParsePort(p)] = []mobynet.PortBinding{{HostIP: netip.MustParseAddr("127.0.0.1")}}
		}
	})
}

// hostURL is scheme://127.0.0.1:<host port of the container's port>. The
// host port changes when a container restarts, so ask again after Start.
func hostURL(ctx context.Context, c *testcontainers.DockerContainer, scheme, port string) (string, error) {
	p, err := c.MappedPort(ctx, port)
	if err != nil {
		return "", fmt.Errorf("port %s: %w", port, err)
	}
	return fmt.Sprintf("%s://127.0.0.1:%d", scheme, p.Num()), nil
}

// kill sends SIGKILL to a container, as a crash or the OOM killer would:
// no graceful shutdown, nothing flushed.
func (s *stack) kill(c *testcontainers.DockerContainer) {
	s.t.Helper()
	if _, err := s.docker.ContainerKill(s.ctx, c.GetContainerID(), client.ContainerKillOptions{Signal: "KILL"}); err != nil {
		s.t.Fatalf("kill %s: %v", c.GetContainerID()[:12], err)
	}
}

// waitFor polls cond every interval until it returns nil or within
// passes, then fails the test with cond's last error.
func waitFor(t testing.TB, within, interval time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, within, err)
		}
		time.Sleep(interval)
	}
}

// errorf is fmt.Errorf, for waitFor conditions.
func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }
