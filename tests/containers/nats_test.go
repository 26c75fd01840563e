package containers

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tclog "github.com/testcontainers/testcontainers-go/log"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"
)

// natsNode is one node of the cluster; its name (nats-1..3) is its network
// alias, as in infra/compose.yaml, so the routes in cluster.conf resolve.
type natsNode struct {
	name string
	c    *testcontainers.DockerContainer
}

// clientURL is the node's client port as seen from the host.
func (n *natsNode) clientURL(ctx context.Context) (string, error) {
	return hostURL(ctx, n.c, "nats", "4222/tcp")
}

// monitorURL is the node's monitoring port as seen from the host.
func (n *natsNode) monitorURL(ctx context.Context) (string, error) {
	return hostURL(ctx, n.c, "http", "8222/tcp")
}

// startNodes starts nats-1..3 with the configs of infra/nats copied in and
// returns once each one's JetStream is enabled (it may have no meta leader
// yet: see waitClusterHealthy).
func (s *stack) startNodes() {
	s.t.Helper()
	root, err := moduleRoot()
	if err != nil {
		s.t.Fatal(err)
	}
	confs, err := filepath.Glob(filepath.Join(root, "infra", "nats", "*.conf"))
	if err != nil || len(confs) == 0 {
		s.t.Fatalf("infra/nats/*.conf: %v (%d files)", err, len(confs))
	}
	var files []testcontainers.ContainerFile
	for _, c := range confs {
		files = append(files, testcontainers.ContainerFile{
			HostFilePath: c, ContainerFilePath: "/etc/nats/" + filepath.Base(c), FileMode: 0o644,
		})
	}
	s.nodes = make([]*natsNode, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range s.nodes {
		name := fmt.Sprintf("nats-%d", i+1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := testcontainers.Run(s.ctx, natsImage,
				testcontainers.WithLogger(tclog.TestLogger(s.t)),
				testcontainers.WithCmd("-c", "/etc/nats/"+name+".conf"),
				testcontainers.WithFiles(files...),
				testcontainers.WithLabels(projectLabel),
				testcontainers.WithExposedPorts("4222/tcp", "8222/tcp"),
				loopbackPorts("4222/tcp", "8222/tcp"),
				network.WithNetwork([]string{name}, s.net),
				testcontainers.WithWaitStrategyAndDeadline(60*time.Second,
					wait.ForHTTP("/healthz?js-enabled-only=true").WithPort("8222/tcp").
						WithPollInterval(100*time.Millisecond)),
			)
			s.own(c, name)
			s.nodes[i], errs[i] = &natsNode{name: name, c: c}, err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			s.t.Fatalf("start %s: %v", s.nodes[i].name, err)
		}
	}
}

// waitClusterHealthy waits until every running node's /healthz answers 200:
// JetStream is current and knows its meta leader, so streams and buckets
// can be created with 3 replicas.
func (s *stack) waitClusterHealthy(within time.Duration) {
	s.t.Helper()
	waitFor(s.t, within, 200*time.Millisecond, "NATS cluster healthy", func() error {
		for _, n := range s.nodes {
			if err := n.healthy(s.ctx); err != nil {
				return err
			}
		}
		return nil
	})
}

// healthy asks the node's /healthz (JetStream included).
func (n *natsNode) healthy(ctx context.Context) error {
	u, err := n.monitorURL(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", n.name, err)
	}
	return httpOK(ctx, u+"/healthz")
}

// httpOK GETs url and returns nil on 200, else the status and body.
func httpOK(ctx context.Context, url string) error { return httpGet(ctx, url, nil) }

// httpGet GETs url, within 3s, and hands a 200's body to read (when not
// nil); any other status is an error with the start of the body.
func httpGet(ctx context.Context, url string, read func(io.Reader) error) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("GET %s: %s %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	if read == nil {
		return nil
	}
	return read(resp.Body)
}

// node returns the cluster node with the given server name.
func (s *stack) node(name string) *natsNode {
	s.t.Helper()
	for _, n := range s.nodes {
		if n.name == name {
			return n
		}
	}
	s.t.Fatalf("no NATS node %q", name)
	return nil
}

// connections names the client connections of the node (a function's is
// "<function>/<instance>"), from its /connz.
func (n *natsNode) connections(t testing.TB) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u, err := n.monitorURL(ctx)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u+"/connz?limit=1024", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s /connz: %v", n.name, err)
	}
	defer resp.Body.Close()
	var connz struct {
		Connections []struct {
			Name string `json:"name"`
		} `json:"connections"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&connz); err != nil {
		t.Fatalf("%s /connz: %v", n.name, err)
	}
	var names []string
	for _, c := range connz.Connections {
		names = append(names, c.Name)
	}
	sort.Strings(names)
	return names
}
