package nats_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

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
			// A paused node's routes are dropped 6-9 s into its silence, so
			// that requests stop going to the clients that left it (drill d).
			if opts.Cluster.PingInterval != 3*time.Second || opts.Cluster.MaxPingsOut != 2 {
				t.Errorf("routes ping every %v with at most %d unanswered, want 3s and 2",
					opts.Cluster.PingInterval, opts.Cluster.MaxPingsOut)
			}
			// Routes keep the default write deadline: a route carries every
			// replicated write, and only clients get the short one.
			if opts.Cluster.WriteDeadline != 10*time.Second {
				t.Errorf("routes' write_deadline = %v, want 10s", opts.Cluster.WriteDeadline)
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
	// A client cut off the network is dropped within seconds, so that
	// requests stop going to it (drill c): after 2 s of blocked writes
	// when it is sent much, two unanswered PINGs 3 s apart when little.
	if opts.WriteDeadline != 2*time.Second {
		t.Errorf("write_deadline = %v, want 2s", opts.WriteDeadline)
	}
	if opts.PingInterval != 3*time.Second || opts.MaxPingsOut != 2 {
		t.Errorf("clients ping every %v with at most %d unanswered, want 3s and 2", opts.PingInterval, opts.MaxPingsOut)
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
	for _, name := range append([]string{"admin", "console"}, functionUsers...) {
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
		if !slices.Contains(p.Subscribe.Allow, "_INBOX_"+name+".>") || !slices.Contains(p.Subscribe.Allow, "$SRV.>") {
			t.Errorf("user %q cannot receive its replies (_INBOX_%s.>) or micro discovery", name, name)
		}
		checkOwnInboxOnly(t, name, p.Subscribe.Allow)
		for _, other := range functionUsers {
			for _, ev := range events[other] {
				if other != name && slices.Contains(p.Publish.Allow, ev) {
					t.Errorf("user %q may publish %s, an event of %s", name, ev, other)
				}
			}
		}
	}
	checkConsole(t, users["console"])
}

// events are the event subjects each function emits.
var events = map[string][]string{
	"orders":    {"orders.created", "orders.cancelled", "orders.confirmed"},
	"inventory": {"inventory.reserved", "inventory.reserved.v2", "inventory.rejected", "inventory.released"},
	"payments": {"payments.completed", "payments.completed.v2", "payments.failed", "payments.failed.v2",
		"payments.refunded", "payments.refunded.v2"},
}

// checkOwnInboxOnly fails when user may subscribe to an inbox other than
// its own `_INBOX_<user>.>`: replies of other clients would reach it.
func checkOwnInboxOnly(t *testing.T, user string, allow []string) {
	t.Helper()
	for _, s := range allow {
		if strings.HasPrefix(s, "_INBOX") && s != "_INBOX_"+user+".>" {
			t.Errorf("user %q may subscribe %q: it could read replies that are not its own", user, s)
		}
	}
}

// checkConsole checks the web console's user: requests and discovery, its
// own inbox, the events read-only, and no JetStream at all.
func checkConsole(t *testing.T, u *server.User) {
	t.Helper()
	if u == nil {
		t.Error("user console missing")
		return
	}
	p := u.Permissions
	if p == nil || p.Publish == nil || p.Subscribe == nil {
		t.Fatalf("console: want publish and subscribe permissions, got %+v", p)
	}
	if p.Response != nil {
		t.Error("console serves nothing and must not have allow_responses")
	}
	checkOwnInboxOnly(t, "console", p.Subscribe.Allow)
	for _, s := range append(slices.Clone(p.Publish.Allow), p.Subscribe.Allow...) {
		if strings.HasPrefix(s, "$JS") || strings.HasPrefix(s, "$KV") || strings.Contains(s, ">") && !strings.HasPrefix(s, "$SRV.") && s != "_INBOX_console.>" {
			t.Errorf("console may use %q: it gets no JetStream and no wildcard beyond discovery and its inbox", s)
		}
	}
	for _, evs := range events {
		for _, ev := range evs {
			if slices.Contains(p.Publish.Allow, ev) {
				t.Errorf("console may publish the event %s", ev)
			}
			if !slices.Contains(p.Subscribe.Allow, ev) {
				t.Errorf("console may not watch the event %s", ev)
			}
		}
	}
}
