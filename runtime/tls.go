package runtime

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
)

// envVar is a setting and the variable it is read from.
type envVar struct{ name, value string }

// pick returns the traces variable when it is set, else the general one:
// OTEL_EXPORTER_OTLP_TRACES_* wins over OTEL_EXPORTER_OTLP_*.
func pick(traces, general envVar) envVar {
	if strings.TrimSpace(traces.value) != "" {
		return traces
	}
	return general
}

// tlsConfig builds a client's TLS configuration from PEM files: the CA to
// trust (the system's when empty) and a client certificate with its key,
// which go together. Its errors name the variable at fault.
func tlsConfig(ca, cert, key envVar) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case cert.value != "" && key.value == "":
		return nil, fmt.Errorf("%s: is required with %s", key.name, cert.name)
	case key.value != "" && cert.value == "":
		return nil, fmt.Errorf("%s: is required with %s", cert.name, key.name)
	case cert.value != "":
		pair, err := tls.LoadX509KeyPair(cert.value, key.value)
		if err != nil {
			return nil, fmt.Errorf("%s, %s: %w", cert.name, key.name, err)
		}
		tc.Certificates = []tls.Certificate{pair}
	}
	if ca.value != "" {
		pem, err := os.ReadFile(ca.value)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", ca.name, err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate in %s", ca.name, ca.value)
		}
	}
	return tc, nil
}

// natsTLS is the TLS configuration of the NATS connection, from
// NATS_TLS_CA, NATS_TLS_CERT and NATS_TLS_KEY; nil when none is set.
func (c Config) natsTLS() (*tls.Config, error) {
	if c.TLSCA == "" && c.TLSCert == "" && c.TLSKey == "" {
		return nil, nil
	}
	tc, err := tlsConfig(envVar{"NATS_TLS_CA", c.TLSCA}, envVar{"NATS_TLS_CERT", c.TLSCert}, envVar{"NATS_TLS_KEY", c.TLSKey})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfigValidation, err)
	}
	return tc, nil
}

// tlsRefused explains a failed TLS handshake with the server that trying
// again will not mend, naming the variables to look at; "" for any other
// error (a server not up yet is retried).
func tlsRefused(err error) string {
	var verify *tls.CertificateVerificationError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &verify):
		return "the server's certificate is not trusted (NATS_TLS_CA): " + err.Error()
	case strings.Contains(err.Error(), "remote error: tls:"):
		return "the server refused the client certificate (NATS_TLS_CERT, NATS_TLS_KEY): " + err.Error()
	}
	return ""
}
