// Package certs makes the certificates of the compose stack over TLS
// (`make certs`, `make up TLS=1`; the command is ./cmd/certs): a CA, one
// server certificate for the three NATS nodes, and one client certificate
// per NATS user, written into a directory:
//
//	ca.pem                        the CA certificate (its key is not kept)
//	server.pem, server-key.pem    nats-1, nats-2, nats-3, localhost, 127.0.0.1;
//	                              server and client auth (routes dial too)
//	<user>.pem, <user>-key.pem    client auth, CN=<user>, for admin, sys,
//	                              orders, inventory, payments and console
//
// These are throwaway certificates for a stack on one machine: the CA's key
// is dropped once they are signed, so nothing more can be signed with it;
// make a new set instead. Keys are written 0644 on purpose: the containers
// run as user 65532 and read them through a bind mount, and a file private
// to the user who ran make would be unreadable there. The directory must be
// git-ignored (bin/ is).
package certs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Defaults: the compose service names of the NATS nodes and the users of
// infra/nats/accounts.conf.
var (
	DefaultHosts = []string{"nats-1", "nats-2", "nats-3", "localhost", "127.0.0.1"}
	DefaultUsers = []string{"admin", "sys", "orders", "inventory", "payments", "console"}
)

// Set is what to certify.
type Set struct {
	Hosts []string      // server certificate's DNS names and IP addresses
	Users []string      // one client certificate each
	Valid time.Duration // validity of every certificate
}

// Validate reports what makes the set unusable.
func (s Set) Validate() error {
	if len(s.Hosts) == 0 {
		return errors.New("-hosts is empty")
	}
	if s.Valid < time.Hour {
		return fmt.Errorf("-valid %s is shorter than an hour", s.Valid)
	}
	for _, u := range s.Users {
		if u == "server" || u == "ca" || strings.ContainsAny(u, `/\`) {
			return fmt.Errorf("-users: %q cannot name a file here", u)
		}
	}
	return nil
}

// Write makes the CA, signs the server and client certificates, and writes
// them to dir. Files are written to a temporary directory first and renamed
// into place, so a failure leaves dir as it was.
func (s Set) Write(dir string) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Clean(dir)), 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(dir)), ".certs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	now := time.Now().Add(-5 * time.Minute) // tolerate a little clock skew
	ca, caKey, err := newCert(certSpec{cn: "natsfn demo CA", isCA: true, from: now, valid: s.Valid}, nil, nil)
	if err != nil {
		return err
	}
	if err := writeCert(tmp, "ca", ca, nil); err != nil {
		return err
	}
	server := certSpec{cn: "natsfn NATS server", from: now, valid: s.Valid,
		usage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
	for _, h := range s.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			server.ips = append(server.ips, ip)
		} else {
			server.dns = append(server.dns, h)
		}
	}
	if err := issue(tmp, "server", server, ca, caKey); err != nil {
		return err
	}
	for _, u := range s.Users {
		spec := certSpec{cn: u, from: now, valid: s.Valid, usage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
		if err := issue(tmp, u, spec, ca, caKey); err != nil {
			return err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.Rename(tmp, dir)
}

// certSpec describes one certificate.
type certSpec struct {
	cn    string
	isCA  bool
	dns   []string
	ips   []net.IP
	usage []x509.ExtKeyUsage
	from  time.Time
	valid time.Duration
}

// newCert makes a P-256 key and a certificate for it, signed by parent
// (self-signed when parent is nil).
func newCert(spec certSpec, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: spec.cn, Organization: []string{"natsfn"}},
		NotBefore:    spec.from,
		NotAfter:     spec.from.Add(spec.valid),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  spec.usage,
		DNSNames:     spec.dns,
		IPAddresses:  spec.ips,
	}
	if spec.isCA {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.MaxPathLenZero = true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate %s: %w", spec.cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// issue signs a certificate with the CA and writes it and its key.
func issue(dir, name string, spec certSpec, ca *x509.Certificate, caKey *ecdsa.PrivateKey) error {
	cert, key, err := newCert(spec, ca, caKey)
	if err != nil {
		return err
	}
	return writeCert(dir, name, cert, key)
}

// writeCert writes <name>.pem and, with a key, <name>-key.pem.
func writeCert(dir, name string, cert *x509.Certificate, key *ecdsa.PrivateKey) error {
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	if err := os.WriteFile(filepath.Join(dir, name+".pem"), certPEM, 0o644); err != nil {
		return err
	}
	if key == nil {
		return nil
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	// 0644: see the package doc (read by uid 65532 through a bind mount).
	return os.WriteFile(filepath.Join(dir, name+"-key.pem"), keyPEM, 0o644)
}
