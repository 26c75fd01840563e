package certs_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/natsfn/natsfn/infra/certs"
)

func writeSet(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs")
	set := certs.Set{Hosts: certs.DefaultHosts, Users: certs.DefaultUsers, Valid: 24 * time.Hour}
	if err := set.Write(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatalf("%s: no PEM certificate", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pool(t *testing.T, dir string) *x509.CertPool {
	t.Helper()
	p := x509.NewCertPool()
	p.AddCert(readCert(t, filepath.Join(dir, "ca.pem")))
	return p
}

func TestServerCertificateNamesEveryNode(t *testing.T) {
	dir := writeSet(t)
	server := readCert(t, filepath.Join(dir, "server.pem"))
	for _, host := range certs.DefaultHosts {
		for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
			if _, err := server.Verify(x509.VerifyOptions{DNSName: host, Roots: pool(t, dir), KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
				t.Errorf("server certificate for %s (usage %v): %v", host, usage, err)
			}
		}
	}
	if _, err := server.Verify(x509.VerifyOptions{DNSName: "nats-4", Roots: pool(t, dir)}); err == nil {
		t.Error("the server certificate is valid for nats-4, which it must not name")
	}
	if _, err := tls.LoadX509KeyPair(filepath.Join(dir, "server.pem"), filepath.Join(dir, "server-key.pem")); err != nil {
		t.Errorf("server key pair: %v", err)
	}
}

func TestClientCertificates(t *testing.T) {
	dir := writeSet(t)
	for _, u := range certs.DefaultUsers {
		c := readCert(t, filepath.Join(dir, u+".pem"))
		if c.Subject.CommonName != u {
			t.Errorf("%s: CN = %q", u, c.Subject.CommonName)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool(t, dir), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("%s: %v", u, err)
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: pool(t, dir), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err == nil {
			t.Errorf("%s: a client certificate is good for serving", u)
		}
		if _, err := tls.LoadX509KeyPair(filepath.Join(dir, u+".pem"), filepath.Join(dir, u+"-key.pem")); err != nil {
			t.Errorf("%s key pair: %v", u, err)
		}
	}
	// Another set has another CA: its certificates are strangers here.
	other := readCert(t, filepath.Join(writeSet(t), "admin.pem"))
	if _, err := other.Verify(x509.VerifyOptions{Roots: pool(t, dir), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err == nil {
		t.Error("a certificate of another set verifies against this CA")
	}
}

func TestNoCAKeyIsKept(t *testing.T) {
	dir := writeSet(t)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	keys := 0
	for _, e := range entries {
		if e.Name() == "ca-key.pem" {
			t.Error("the CA key was written: anyone could sign certificates the cluster trusts")
		}
		if strings.HasSuffix(e.Name(), "-key.pem") {
			keys++
		}
	}
	if want := 1 + len(certs.DefaultUsers); keys != want {
		t.Errorf("%d keys written, want %d (server and every user)", keys, want)
	}
}

func TestBadSetWritesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	for name, set := range map[string]certs.Set{
		"no hosts":       {Users: certs.DefaultUsers, Valid: time.Hour},
		"too short":      {Hosts: certs.DefaultHosts, Valid: time.Minute},
		"user as a path": {Hosts: certs.DefaultHosts, Users: []string{"../x"}, Valid: time.Hour},
		"user as server": {Hosts: certs.DefaultHosts, Users: []string{"server"}, Valid: time.Hour},
	} {
		if err := set.Write(dir); err == nil {
			t.Errorf("%s: written", name)
		}
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("a refused set left %s behind (%v)", dir, err)
	}
}
