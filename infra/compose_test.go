// Package infra_test checks the compose files offline: every container is
// limited, hardened and reachable on loopback only, every function instance
// has its own readable id and its own NATS user, and the TLS overlay gives
// each one its own certificate. `make up` with docker-compose v1 and v2 is
// what proves they run (infra/README.md).
package infra_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"sigs.k8s.io/yaml"
)

// composeFile is the part of a compose file the tests read.
type composeFile struct {
	Services map[string]service `json:"services"`
	Networks map[string]struct {
		Name   string            `json:"name"`
		Labels map[string]string `json:"labels"`
	} `json:"networks"`
	Volumes map[string]struct {
		Labels map[string]string `json:"labels"`
	} `json:"volumes"`
}

type service struct {
	Image       string            `json:"image"`
	Hostname    string            `json:"hostname"`
	Command     []string          `json:"command"`
	Environment map[string]any    `json:"environment"`
	Labels      map[string]string `json:"labels"`
	Ports       []string          `json:"ports"`
	Volumes     []string          `json:"volumes"`
	Profiles    []string          `json:"profiles"`
	ReadOnly    bool              `json:"read_only"`
	CapDrop     []string          `json:"cap_drop"`
	SecurityOpt []string          `json:"security_opt"`
	MemLimit    string            `json:"mem_limit"`
	MemSwap     string            `json:"memswap_limit"`
	CPUs        float64           `json:"cpus"`
	PidsLimit   int               `json:"pids_limit"`
	Scale       int               `json:"scale"`
	Deploy      json.RawMessage   `json:"deploy"`
}

// env is a variable's value as compose would set it with nothing in the
// shell ("" when unset).
func (s service) env(name string) string {
	v, ok := s.Environment[name]
	if !ok || v == nil {
		return ""
	}
	return expand(fmt.Sprint(v))
}

// defaults matches ${VAR:-default} and ${VAR}.
var defaults = regexp.MustCompile(`\$\{[A-Z0-9_]+(?::-([^}]*))?\}`)

// expand resolves variables to their defaults, as with an empty shell.
func expand(s string) string {
	return defaults.ReplaceAllString(s, "$1")
}

func loadCompose(t *testing.T, name string) composeFile {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	js, err := yaml.YAMLToJSON(data) // resolves anchors and << merges
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var f composeFile
	dec := json.NewDecoder(strings.NewReader(string(js)))
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

// functions are the functions of infra.mk's INFRA_FUNCTIONS, the list
// `make images` builds and `natsfn new` adds to: the saga's three first.
func functions(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("infra.mk")
	if err != nil {
		t.Fatal(err)
	}
	var fns []string
	for _, line := range strings.Split(string(data), "\n") {
		for _, op := range []string{":=", "+="} {
			if list, ok := strings.CutPrefix(line, "INFRA_FUNCTIONS "+op); ok {
				fns = append(fns, strings.Fields(list)...)
			}
		}
	}
	if len(fns) < 3 || !slices.Equal(fns[:3], []string{"orders", "inventory", "payments"}) {
		t.Fatalf("infra.mk: INFRA_FUNCTIONS is %v, want orders, inventory, payments first", fns)
	}
	return fns
}

// isGo reports whether the service runs one of our Go binaries, for which
// GOMEMLIMIT applies.
func isGo(s service) bool {
	return strings.Contains(expand(s.Image), "natsfn/")
}

// bytesOf reads a compose size (512m) or a Go one (460MiB).
func bytesOf(t *testing.T, s string) int64 {
	t.Helper()
	units := map[string]int64{"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
	for u, mult := range units {
		if n, ok := strings.CutSuffix(s, u); ok {
			v, err := strconv.ParseInt(n, 10, 64)
			if err != nil {
				t.Fatalf("size %q: %v", s, err)
			}
			return v * mult
		}
	}
	t.Fatalf("size %q has no unit", s)
	return 0
}

func TestEveryContainerIsLimited(t *testing.T) {
	f := loadCompose(t, "compose.yaml")
	for name, s := range f.Services {
		t.Run(name, func(t *testing.T) {
			if s.MemLimit == "" || s.CPUs <= 0 || s.PidsLimit <= 0 {
				t.Fatalf("mem_limit %q, cpus %v, pids_limit %d: all three must be set", s.MemLimit, s.CPUs, s.PidsLimit)
			}
			limit := bytesOf(t, s.MemLimit)
			if s.MemSwap != s.MemLimit {
				t.Errorf("memswap_limit %q differs from mem_limit %q: the container could swap", s.MemSwap, s.MemLimit)
			}
			if len(s.Deploy) > 0 {
				t.Error("deploy: docker-compose v1 ignores it without --compatibility; use mem_limit, cpus, pids_limit")
			}
			if !isGo(s) {
				return
			}
			gml := s.env("GOMEMLIMIT")
			if gml == "" {
				t.Fatal("no GOMEMLIMIT: the Go heap may grow to the limit and be OOM-killed")
			}
			ratio := float64(bytesOf(t, gml)) / float64(limit)
			if ratio > 0.90 || ratio < 0.80 {
				t.Errorf("GOMEMLIMIT %s is %.0f%% of mem_limit %s, want 80-90%%", gml, 100*ratio, s.MemLimit)
			}
		})
	}
}

func TestEveryContainerIsHardened(t *testing.T) {
	f := loadCompose(t, "compose.yaml")
	for name, s := range f.Services {
		t.Run(name, func(t *testing.T) {
			if !s.ReadOnly || !slices.Equal(s.CapDrop, []string{"ALL"}) || !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
				t.Errorf("read_only %v, cap_drop %v, security_opt %v", s.ReadOnly, s.CapDrop, s.SecurityOpt)
			}
			if s.Labels["io.natsfn.project"] != "${COMPOSE_PROJECT_NAME:-natsfn}" {
				t.Errorf("label io.natsfn.project = %q, want the project's name", s.Labels["io.natsfn.project"])
			}
			for _, p := range s.Ports {
				if !strings.HasPrefix(p, "127.0.0.1:") {
					t.Errorf("port %q is published beyond loopback", p)
				}
			}
		})
	}
	for name, n := range f.Networks {
		if n.Name != "${COMPOSE_PROJECT_NAME:-natsfn}" {
			t.Errorf("network %s is named %q: two stacks on one engine would share it", name, n.Name)
		}
	}
}

// TestNATSNodes: three nodes, each with its config, its volume and both
// ports published (the README's NATS_URL lists all three client ports).
func TestNATSNodes(t *testing.T) {
	f := loadCompose(t, "compose.yaml")
	var clientPorts []string
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("nats-%d", i)
		s, ok := f.Services[name]
		if !ok {
			t.Fatalf("no service %s", name)
		}
		if s.Hostname != name {
			t.Errorf("%s: hostname %q (the routes dial %s)", name, s.Hostname, name)
		}
		conf := s.Command[len(s.Command)-1]
		if _, err := os.Stat(filepath.Join("nats", filepath.Base(conf))); err != nil {
			t.Errorf("%s: config %s: %v", name, conf, err)
		}
		var published []string
		for _, p := range s.Ports {
			parts := strings.Split(expand(p), ":")
			published = append(published, parts[2])
			if parts[2] == "4222" {
				clientPorts = append(clientPorts, parts[1])
			}
		}
		if !slices.Contains(published, "4222") || !slices.Contains(published, "8222") {
			t.Errorf("%s publishes %v, want the client (4222) and monitoring (8222) ports", name, published)
		}
	}
	if !slices.Equal(clientPorts, []string{"4222", "4223", "4224"}) {
		t.Errorf("client ports %v, want 4222, 4223, 4224", clientPorts)
	}

	// JetStream's memory store and the heap measured under load (about
	// 300 MiB, infra/README.md "Limits") must fit under GOMEMLIMIT.
	opts, err := server.ProcessConfigFile(filepath.Join("nats", "server.conf"))
	if err != nil {
		t.Fatal(err)
	}
	const measuredPeak = 300 << 20
	gml := bytesOf(t, f.Services["nats-1"].env("GOMEMLIMIT"))
	if opts.JetStreamMaxMemory+measuredPeak > gml {
		t.Errorf("max_memory_store %d + %d measured > GOMEMLIMIT %d", opts.JetStreamMaxMemory, measuredPeak, gml)
	}
}

// TestFunctionInstances: two services per function of infra.mk, named
// <fn>-1 and <fn>-2, whose instance id is their name, each with its
// function's user and image.
func TestFunctionInstances(t *testing.T) {
	f := loadCompose(t, "compose.yaml")
	for _, fn := range functions(t) {
		for i := 1; i <= 2; i++ {
			name := fmt.Sprintf("%s-%d", fn, i)
			s, ok := f.Services[name]
			if !ok {
				t.Errorf("no service %s", name)
				continue
			}
			if s.Scale > 1 {
				t.Errorf("%s: scale %d would give instances hex ids again", name, s.Scale)
			}
			if id := s.env("NATSFN_INSTANCE_ID"); id != name || s.Hostname != name {
				t.Errorf("%s: NATSFN_INSTANCE_ID %q, hostname %q; want both %q", name, id, s.Hostname, name)
			}
			if u := s.env("NATS_USER"); u != fn {
				t.Errorf("%s: NATS_USER %q, want %q", name, u, fn)
			}
			if img := expand(s.Image); img != "natsfn/"+fn+":dev" {
				t.Errorf("%s: image %q", name, img)
			}
			urls := strings.Split(s.env("NATS_URL"), ",")
			if !slices.Equal(urls, []string{"nats://nats-1:4222", "nats://nats-2:4222", "nats://nats-3:4222"}) {
				t.Errorf("%s: NATS_URL %v, want the three nodes", name, urls)
			}
		}
	}
	c, ok := f.Services["console"]
	if !ok {
		t.Fatal("no console service")
	}
	if c.env("NATS_USER") != "console" || expand(c.Image) != "natsfn/natsfn:dev" || !slices.Equal(c.Command, []string{"console"}) {
		t.Errorf("console: user %q image %q command %v", c.env("NATS_USER"), expand(c.Image), c.Command)
	}
	if !slices.Contains(c.Ports, "127.0.0.1:${CONSOLE_PORT:-8090}:8090") {
		t.Errorf("console ports %v, want 127.0.0.1:8090", c.Ports)
	}
}

// TestTLSOverlay: compose.tls.yaml moves every node to its TLS config and
// every client to tls:// with its own certificate.
func TestTLSOverlay(t *testing.T) {
	base := loadCompose(t, "compose.yaml")
	tlsf := loadCompose(t, "compose.tls.yaml")
	for name, s := range tlsf.Services {
		b, ok := base.Services[name]
		if !ok {
			t.Errorf("%s is not a service of compose.yaml", name)
			continue
		}
		if !slices.Contains(s.Volumes, "../bin/certs:/certs:ro") {
			t.Errorf("%s does not mount the certificates read-only on /certs: %v", name, s.Volumes)
		}
		if strings.HasPrefix(name, "nats-") {
			conf := s.Command[len(s.Command)-1]
			if conf != "/etc/nats/"+name+"-tls.conf" {
				t.Errorf("%s runs %s", name, conf)
			}
			if _, err := os.Stat(filepath.Join("nats", filepath.Base(conf))); err != nil {
				t.Error(err)
			}
			continue
		}
		user := b.env("NATS_USER")
		if s.env("NATS_TLS_CERT") != "/certs/"+user+".pem" || s.env("NATS_TLS_KEY") != "/certs/"+user+"-key.pem" || s.env("NATS_TLS_CA") != "/certs/ca.pem" {
			t.Errorf("%s (user %s): cert %q key %q CA %q", name, user, s.env("NATS_TLS_CERT"), s.env("NATS_TLS_KEY"), s.env("NATS_TLS_CA"))
		}
		for _, u := range strings.Split(s.env("NATS_URL"), ",") {
			if !strings.HasPrefix(u, "tls://") {
				t.Errorf("%s: NATS_URL %s is not tls://", name, u)
			}
		}
	}
	for name, b := range base.Services {
		if b.env("NATS_USER") != "" || strings.HasPrefix(name, "nats-") && name != "nats-exporter" {
			if _, ok := tlsf.Services[name]; !ok {
				t.Errorf("%s stays off TLS", name)
			}
		}
	}
}
