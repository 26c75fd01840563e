// Package otlp is natsfn's OTLP/HTTP span exporter: it writes spans in
// OTLP's protobuf wire format (encode.go) and posts them
// (http/protobuf), with TLS, gzip and retries.
package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Settings say where and how spans are posted. The runtime fills them from
// the OTEL_EXPORTER_OTLP_* variables its Config reads; nothing here reads
// the environment.
type Settings struct {
	// URL is the full URL spans are posted to, e.g.
	// http://collector:4318/v1/traces.
	URL string
	// Headers are added to every request (authentication, tenant).
	Headers map[string]string
	// Timeout bounds one request; 10s when 0.
	Timeout time.Duration
	// Gzip compresses the body.
	Gzip bool
	// TLS, when set, is the client's TLS configuration for an https URL:
	// the CA to trust and a client certificate.
	TLS *tls.Config
}

// NewExporter returns an OTLP/HTTP span exporter. Batching is the
// runtime's (internal/spanbatch) and retries are this client's.
// otlptracehttp would do the same, but its collector package links gRPC,
// which took a function binary from 13.8 MB to 19.8 MB (about 6 MB per
// image, past the 15 MB budget); the SDK's otlptrace exporter under a
// client of our own still linked the protobuf runtime (see encode.go).
func NewExporter(s Settings) sdktrace.SpanExporter {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = s.TLS
	c := &client{url: s.URL, headers: s.Headers, gzip: s.Gzip, http: &http.Client{Timeout: s.Timeout, Transport: tr}}
	if c.http.Timeout <= 0 {
		c.http.Timeout = 10 * time.Second
	}
	return c
}

// ParseList parses the "k1=v1,k2=v2" lists with URL-encoded values of
// OTEL_EXPORTER_OTLP_HEADERS and OTEL_RESOURCE_ATTRIBUTES. A pair without
// a key or '=' is skipped, as the SDK does.
func ParseList(s string) map[string]string {
	h := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || strings.TrimSpace(k) == "" {
			continue
		}
		if dv, err := url.QueryUnescape(strings.TrimSpace(v)); err == nil {
			v = dv
		}
		h[strings.TrimSpace(k)] = v
	}
	return h
}

// client sends spans to an OTLP/HTTP collector as protobuf: it is the
// exporter NewExporter returns.
type client struct {
	url     string
	headers map[string]string
	http    *http.Client
	gzip    bool
}

// ExportSpans posts spans as one request (retried as upload says).
func (c *client) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	return c.upload(ctx, encodeSpans(spans))
}

// Shutdown closes idle connections; each export is one HTTP request, so
// there is nothing else to stop.
func (c *client) Shutdown(context.Context) error {
	c.http.CloseIdleConnections()
	return nil
}

// upload posts one batch, a TracesData, and posts it again after a
// failure the OTLP specification calls retryable (a connection error, 429,
// 502, 503, 504), waiting 100 ms, 200 ms, 400 ms... or what Retry-After
// says, until ctx ends: the batcher bounds each export. TracesData has the
// wire format of the collector's ExportTraceServiceRequest (field 1,
// repeated ResourceSpans), as the specification promises.
func (c *client) upload(ctx context.Context, body []byte) error {
	if c.gzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write(body); err != nil {
			return fmt.Errorf("otlp: gzip spans: %w", err)
		}
		if err := zw.Close(); err != nil {
			return fmt.Errorf("otlp: gzip spans: %w", err)
		}
		body = buf.Bytes()
	}
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		retry, after, err := c.post(ctx, body)
		if err == nil || !retry {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-time.After(max(wait, after)):
		}
	}
}

// post sends one request; retry says whether the failure is worth another
// try, and after how long the collector asked for one (Retry-After).
func (c *client) post(ctx context.Context, body []byte) (retry bool, after time.Duration, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return false, 0, fmt.Errorf("otlp: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if c.gzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// A certificate the client refuses will not change by itself.
		var cert *tls.CertificateVerificationError
		return !errors.As(err, &cert), 0, fmt.Errorf("otlp: post %s: %w", c.url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, 0, nil
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusBadGateway,
		resp.StatusCode == http.StatusServiceUnavailable, resp.StatusCode == http.StatusGatewayTimeout:
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return true, time.Duration(secs) * time.Second, fmt.Errorf("otlp: post %s: %s", c.url, resp.Status)
	default:
		return false, 0, fmt.Errorf("otlp: post %s: %s", c.url, resp.Status)
	}
}
