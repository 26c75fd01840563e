package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/natsfn/natsfn/runtime"
)

// tlsServer starts an in-process nats-server with JetStream whose client
// port speaks TLS only and requires a client certificate of p's CA, and
// returns its tls:// URL.
func tlsServer(t *testing.T, p pki) string {
	t.Helper()
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: p.path("server.pem"), KeyFile: p.path("server-key.pem"),
		CaFile: p.path("ca.pem"), Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	s := serverWith(t, server.Options{TLS: true, TLSVerify: true, TLSConfig: tc, TLSTimeout: 2})
	return fmt.Sprintf("tls://127.0.0.1:%d", s.Addr().(*net.TCPAddr).Port)
}

// TestNATSOverTLS: with NATS_TLS_CERT, NATS_TLS_KEY and NATS_TLS_CA a
// function serves over a TLS-only server that requires client
// certificates. Trusting another CA, or without a client certificate, it
// is refused at once with an error that says why and names the variable,
// rather than retried until NATSFN_CONNECT_TIMEOUT.
func TestNATSOverTLS(t *testing.T) {
	p, other := newPKI(t), newPKI(t)
	url := tlsServer(t, p)
	cfg := func(ca string, cert bool) runtime.Config {
		c := runtime.Config{NATSURL: url, TLSCA: ca, InstanceID: "tls", ConnectTimeout: 20 * time.Second, Logger: quietLogger()}
		if cert {
			c.TLSCert, c.TLSKey = p.path("client.pem"), p.path("client-key.pem")
		}
		return c
	}

	inst, err := runtime.Start(context.Background(), cfg(p.path("ca.pem"), true), echoService(1))
	if err != nil {
		t.Fatalf("Start over TLS: %v", err)
	}
	t.Cleanup(func() { _ = inst.Stop() })
	nc, err := nats.Connect(url, nats.ClientCert(p.path("client.pem"), p.path("client-key.pem")), nats.RootCAs(p.path("ca.pem")))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	reply, err := nc.Request("echo.say", []byte(`{"msg":"over tls"}`), 2*time.Second)
	if err != nil || !strings.Contains(string(reply.Data), "over tls") {
		t.Fatalf("echo over TLS: %v %s", err, reply.Data)
	}

	for _, c := range []struct {
		name string
		cfg  runtime.Config
		want []string
	}{
		{"another CA", cfg(other.path("ca.pem"), true), []string{"NATS_TLS_CA", "certificate signed by unknown authority"}},
		{"no client certificate", cfg(p.path("ca.pem"), false), []string{"NATS_TLS_CERT", "client certificate"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			inst, err := runtime.Start(context.Background(), c.cfg, echoService(1))
			if err == nil {
				_ = inst.Stop()
				t.Fatal("Start succeeded")
			}
			t.Logf("refused: %v", err)
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Start: %v, want it to say %q", err, w)
				}
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("refused after %s, want at once (the connect timeout is 20s)", took)
			}
		})
	}
}

// TestNATSTLSSettingsRefused: a certificate without its key, a key of
// another certificate and a CA file with no certificate stop LoadConfig
// with an error naming the variable.
func TestNATSTLSSettingsRefused(t *testing.T) {
	p := newPKI(t)
	checkRefused(t, []refusedEnv{
		{"cert without key", map[string]string{"NATS_TLS_CERT": p.path("client.pem")}, "NATS_TLS_KEY: is required with NATS_TLS_CERT"},
		{"key without cert", map[string]string{"NATS_TLS_KEY": p.path("client-key.pem")}, "NATS_TLS_CERT: is required with NATS_TLS_KEY"},
		{"key of another cert", map[string]string{"NATS_TLS_CERT": p.path("client.pem"), "NATS_TLS_KEY": p.path("server-key.pem")},
			"NATS_TLS_CERT, NATS_TLS_KEY: tls: private key does not match public key"},
		{"CA not PEM", map[string]string{"NATS_TLS_CA": notPEMFile(t)}, "NATS_TLS_CA: no PEM certificate in"},
		{"missing CA", map[string]string{"NATS_TLS_CA": "/nonexistent/ca.pem"}, "NATS_TLS_CA: cannot read /nonexistent/ca.pem"},
	})
}

// refusedEnv is an environment LoadConfig must refuse, and what its error
// must say.
type refusedEnv struct {
	name string
	env  map[string]string
	want string
}

// checkRefused runs LoadConfig in each environment, as a subtest, and
// wants a configuration error that says c.want.
func checkRefused(t *testing.T, cases []refusedEnv) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			_, err := runtime.LoadConfig()
			if !errors.Is(err, runtime.ErrConfigValidation) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("LoadConfig: %v, want a config error containing %q", err, c.want)
			}
		})
	}
}

// notPEMFile is a file that holds no PEM certificate.
func notPEMFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
