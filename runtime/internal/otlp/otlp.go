// Package otlp is natsfn's OTLP/HTTP span transport: the SDK's otlptrace
// exporter over a small protobuf-over-HTTP client of its own.
package otlp

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
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
}

// NewExporter returns an OTLP/HTTP span exporter. The span conversion,
// batching and retries of the SDK stay the maintained otlptrace
// exporter's; only the transport is ours. otlptracehttp would do the same,
// but its collector package links gRPC, which more than doubles a function
// binary (about 8 MB of a 20 MB image); this client keeps every function
// image small.
func NewExporter(ctx context.Context, s Settings) (*otlptrace.Exporter, error) {
	c := &client{url: s.URL, headers: s.Headers, gzip: s.Gzip, http: &http.Client{Timeout: s.Timeout}}
	if c.http.Timeout <= 0 {
		c.http.Timeout = 10 * time.Second
	}
	return otlptrace.New(ctx, c)
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

// client sends spans to an OTLP/HTTP collector as protobuf.
type client struct {
	url     string
	headers map[string]string
	http    *http.Client
	gzip    bool
}

// Start has nothing to do: each upload is one HTTP request.
func (c *client) Start(context.Context) error { return nil }

// Stop closes idle connections.
func (c *client) Stop(context.Context) error {
	c.http.CloseIdleConnections()
	return nil
}

// UploadTraces posts one batch. TracesData has the wire format of the
// collector's ExportTraceServiceRequest (field 1, repeated ResourceSpans),
// as the OTLP specification promises.
func (c *client) UploadTraces(ctx context.Context, spans []*tracepb.ResourceSpans) error {
	body, err := proto.Marshal(&tracepb.TracesData{ResourceSpans: spans})
	if err != nil {
		return fmt.Errorf("otlp: encode spans: %w", err)
	}
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
	for wait := 100 * time.Millisecond; ; wait *= 2 {
		retry, err := c.post(ctx, body)
		if err == nil || !retry {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %w)", ctx.Err(), err)
		case <-time.After(wait):
		}
	}
}

// post sends one request; retry says whether the failure is worth another try.
func (c *client) post(ctx context.Context, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return false, fmt.Errorf("otlp: %w", err)
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
		return true, fmt.Errorf("otlp: post %s: %w", c.url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusBadGateway,
		resp.StatusCode == http.StatusServiceUnavailable, resp.StatusCode == http.StatusGatewayTimeout:
		return true, fmt.Errorf("otlp: post %s: %s", c.url, resp.Status)
	default:
		return false, fmt.Errorf("otlp: post %s: %s", c.url, resp.Status)
	}
}
