package nats_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
)

// functionUsers are the NATS users of the natsfn functions, one per function.
var functionUsers = []string{"orders", "inventory", "payments"}

// loadConfig parses a config file of this directory with the server's own parser.
func loadConfig(t *testing.T, name string) *server.Options {
	t.Helper()
	opts, err := server.ProcessConfigFile(filepath.Join(".", name))
	if err != nil {
		t.Fatalf("parse %s: %v", name, err)
	}
	return opts
}

func TestClusterNodeConfigs(t *testing.T) {
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("nats-%d", i)
		t.Run(name, func(t *testing.T) {
			opts := loadConfig(t, name+".conf")
			if opts.ServerName != name {
				t.Errorf("server_name = %q, want %q", opts.ServerName, name)
			}
			checkCommon(t, opts)
			if opts.Cluster.Name != "natsfn" || opts.Cluster.Port != 6222 {
				t.Errorf("cluster = %q port %d, want natsfn port 6222", opts.Cluster.Name, opts.Cluster.Port)
			}
			if opts.Cluster.Username == "" || opts.Cluster.Password == "" {
				t.Error("cluster routes accept unauthenticated peers")
			}
			var hosts []string
			for _, u := range opts.Routes {
				hosts = append(hosts, u.Host)
				if u.User == nil || u.User.Username() != opts.Cluster.Username {
					t.Errorf("route %s does not carry the route user", u.Redacted())
				}
			}
			want := []string{"nats-1:6222", "nats-2:6222", "nats-3:6222"}
			if !slices.Equal(hosts, want) {
				t.Errorf("routes = %v, want %v", hosts, want)
			}
		})
	}
}

func TestStandaloneConfig(t *testing.T) {
	opts := loadConfig(t, "nats-server.conf")
	checkCommon(t, opts)
	if len(opts.Routes) != 0 || opts.Cluster.Port != 0 {
		t.Errorf("standalone config has a cluster: port %d, routes %v", opts.Cluster.Port, opts.Routes)
	}
}

// checkCommon checks what every natsfn server config must have.
func checkCommon(t *testing.T, opts *server.Options) {
	t.Helper()
	if opts.Port != 4222 || opts.HTTPPort != 8222 {
		t.Errorf("ports: client %d monitor %d, want 4222 and 8222", opts.Port, opts.HTTPPort)
	}
	if !opts.JetStream || opts.StoreDir != "/data/jetstream" {
		t.Errorf("jetstream = %v store_dir = %q, want true and /data/jetstream", opts.JetStream, opts.StoreDir)
	}
	if opts.MaxPayload != 8*1024*1024 {
		t.Errorf("max_payload = %d, want 8MB", opts.MaxPayload)
	}
	if opts.NoAuthUser != "" {
		t.Errorf("no_auth_user = %q: anonymous clients would be let in", opts.NoAuthUser)
	}
	if opts.SystemAccount != "SYS" {
		t.Errorf("system_account = %q, want SYS", opts.SystemAccount)
	}
	users := map[string]*server.User{}
	for _, u := range opts.Users {
		users[u.Username] = u
	}
	for _, name := range append([]string{"admin"}, functionUsers...) {
		u, ok := users[name]
		if !ok {
			t.Errorf("user %q missing", name)
			continue
		}
		if u.Password == "" {
			t.Errorf("user %q has no password", name)
		}
		if u.Account == nil || u.Account.Name != "NATSFN" {
			t.Errorf("user %q is not in account NATSFN", name)
		}
	}
	if u := users["admin"]; u != nil && u.Permissions != nil {
		t.Error("admin must be unrestricted")
	}
	for _, name := range functionUsers {
		u := users[name]
		if u == nil {
			continue
		}
		p := u.Permissions
		if p == nil || p.Publish == nil || p.Subscribe == nil || p.Response == nil {
			t.Errorf("user %q: want publish, subscribe and allow_responses permissions, got %+v", name, p)
			continue
		}
		for _, s := range append(p.Publish.Allow, p.Subscribe.Allow...) {
			if s == ">" || s == "*" {
				t.Errorf("user %q is allowed everything (%q)", name, s)
			}
		}
		if !slices.Contains(p.Subscribe.Allow, "_INBOX.>") || !slices.Contains(p.Subscribe.Allow, "$SRV.>") {
			t.Errorf("user %q cannot receive replies or micro discovery", name)
		}
	}
}
