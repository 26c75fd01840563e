package nats_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/infra/certs"
)

// certDir is where tls.conf expects the certificates: compose.tls.yaml
// mounts bin/certs there.
const certDir = "/certs/"

// tlsConfigs copies this directory's configs into a temporary directory
// with tls.conf pointing at a fresh certificate set there (the server loads
// the files while it parses), and returns the directory.
func tlsConfigs(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	set := certs.Set{Hosts: certs.DefaultHosts, Users: certs.DefaultUsers, Valid: 24 * time.Hour}
	if err := set.Write(filepath.Join(dir, "certs")); err != nil {
		t.Fatal(err)
	}
	confs, err := filepath.Glob("*.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range confs {
		data, err := os.ReadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		data = []byte(strings.ReplaceAll(string(data), certDir, filepath.Join(dir, "certs")+"/"))
		if err := os.WriteFile(filepath.Join(dir, c), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestClusterNodeConfigsOverTLS(t *testing.T) {
	if data, err := os.ReadFile("tls.conf"); err != nil || !strings.Contains(string(data), certDir) {
		t.Fatalf("tls.conf does not read the certificates from %s (%v)", certDir, err)
	}
	dir := tlsConfigs(t)
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("nats-%d", i)
		t.Run(name, func(t *testing.T) {
			plain := loadConfig(t, name+".conf")
			opts, err := server.ProcessConfigFile(filepath.Join(dir, name+"-tls.conf"))
			if err != nil {
				t.Fatal(err)
			}
			if opts.ServerName != name {
				t.Errorf("server_name = %q", opts.ServerName)
			}
			checkCommon(t, opts)
			if opts.TLSConfig == nil || opts.TLSConfig.ClientAuth != tls.RequireAndVerifyClientCert {
				t.Error("clients are not required to present a certificate the CA signed")
			}
			if opts.Cluster.TLSConfig == nil {
				t.Error("routes are not over TLS")
			}
			var hosts, want []string
			for _, u := range opts.Routes {
				hosts = append(hosts, u.Host)
			}
			for _, u := range plain.Routes {
				want = append(want, u.Host)
			}
			if !slices.Equal(hosts, want) || opts.Cluster.Name != plain.Cluster.Name || opts.Cluster.Username != plain.Cluster.Username {
				t.Errorf("cluster %q routes %v differs from the plain config's %q %v", opts.Cluster.Name, hosts, plain.Cluster.Name, want)
			}
		})
	}
}

// TestTLSClients runs a server with tls.conf and checks who gets in: a
// client with a certificate of the CA and its password does; one without a
// certificate, with another CA's, or with a wrong password does not.
func TestTLSClients(t *testing.T) {
	dir := tlsConfigs(t)
	conf := filepath.Join(dir, "standalone-tls.conf")
	if err := os.WriteFile(conf, []byte("server_name: tls\ninclude ./server.conf\ninclude ./tls.conf\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	opts.StoreDir = t.TempDir()
	srv := runServer(t, opts)
	url := "tls://" + srv.Addr().String() // the server certificate names 127.0.0.1
	passwords := map[string]string{}
	for _, u := range opts.Users {
		passwords[u.Username] = u.Password
	}
	// certFiles are a user's certificate and key from dir d, trusting the CA of own.
	own := filepath.Join(dir, "certs")
	certFiles := func(d, user string) []nats.Option {
		return []nats.Option{
			nats.ClientCert(filepath.Join(d, user+".pem"), filepath.Join(d, user+"-key.pem")),
			nats.RootCAs(filepath.Join(own, "ca.pem")),
		}
	}
	connect := func(user, password string, extra ...nats.Option) (*nats.Conn, error) {
		o := append([]nats.Option{nats.UserInfo(user, password), nats.MaxReconnects(0), nats.CustomInboxPrefix(inboxPrefix(user))}, extra...)
		return nats.Connect(url, o...)
	}

	for _, user := range []string{"admin", "orders", "console"} {
		nc, err := connect(user, passwords[user], certFiles(own, user)...)
		if err != nil {
			t.Fatalf("%s with its certificate: %v", user, err)
		}
		if !nc.TLSRequired() {
			t.Errorf("%s: connection is not TLS", user)
		}
		if user != "console" {
			if _, err := nc.Request("$JS.API.INFO", nil, 5*time.Second); err != nil {
				t.Errorf("%s: JetStream over TLS: %v", user, err)
			}
		}
		nc.Close()
	}

	other := filepath.Join(t.TempDir(), "other")
	if err := (certs.Set{Hosts: certs.DefaultHosts, Users: []string{"admin"}, Valid: time.Hour}).Write(other); err != nil {
		t.Fatal(err)
	}
	refused := map[string][]nats.Option{
		"no client certificate":    {nats.RootCAs(filepath.Join(own, "ca.pem"))},
		"another CA's certificate": certFiles(other, "admin"),
	}
	for name, o := range refused {
		nc, err := connect("admin", passwords["admin"], o...)
		if err == nil {
			// The handshake may fail only on the first read.
			err = nc.Flush()
			nc.Close()
		}
		if err == nil {
			t.Errorf("%s: connected", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	_, err = connect("admin", "wrong", certFiles(own, "admin")...)
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Errorf("a certificate without the password: err = %v, want an authorization violation", err)
	}
}

// TestRoutesRequireTLS starts a node of the TLS cluster and talks to its
// route port: a peer must speak TLS there too, with a certificate of the CA.
func TestRoutesRequireTLS(t *testing.T) {
	dir := tlsConfigs(t)
	opts, err := server.ProcessConfigFile(filepath.Join(dir, "nats-1-tls.conf"))
	if err != nil {
		t.Fatal(err)
	}
	opts.Cluster.Host, opts.Cluster.Port = "127.0.0.1", -1
	opts.Routes = nil      // nats-2 and nats-3 do not resolve here
	opts.JetStream = false // a clustered JetStream needs its peers
	srv := runServer(t, opts)
	// A plain TCP peer gets no INFO: the route port speaks TLS first.
	conn, err := net.DialTimeout("tcp", srv.ClusterAddr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if line, err := bufio.NewReader(conn).ReadString('\n'); err == nil {
		t.Errorf("a plaintext peer read %q from the route port", line)
	}
	// A peer with a certificate of the CA completes the handshake as nats-2
	// would, and reads the server's INFO over TLS.
	cert, err := tls.LoadX509KeyPair(filepath.Join(dir, "certs", "server.pem"), filepath.Join(dir, "certs", "server-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	ca, err := os.ReadFile(filepath.Join(dir, "certs", "ca.pem"))
	if err != nil || !roots.AppendCertsFromPEM(ca) {
		t.Fatalf("read CA: %v", err)
	}
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", srv.ClusterAddr().String(),
		&tls.Config{RootCAs: roots, ServerName: "nats-1", Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatalf("TLS handshake on the route port: %v", err)
	}
	defer tc.Close()
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(tc).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "INFO ") {
		t.Fatalf("route INFO over TLS: %q %v", line, err)
	}
	var info struct {
		TLSRequired bool `json:"tls_required"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(strings.TrimSpace(line), "INFO ")), &info); err != nil || !info.TLSRequired {
		t.Errorf("route INFO %q: tls_required %v (%v)", line, info.TLSRequired, err)
	}
	if !opts.Cluster.NoAdvertise {
		t.Error("the cluster gossips container addresses to clients (no_advertise is off)")
	}
}
