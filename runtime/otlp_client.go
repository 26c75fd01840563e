package runtime

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"
)

// otlpHTTPClient sends spans to an OTLP/HTTP collector as protobuf. The span
// conversion, batching and retries of the SDK stay the maintained
// otlptrace exporter's; only the transport is ours. otlptracehttp would do
// the same, but its collector package links gRPC, which more than doubles a
// function binary (about 8 MB of a 20 MB image); this client keeps every
// function image small.
//
// It reads the standard OTEL_EXPORTER_OTLP_HEADERS,
// OTEL_EXPORTER_OTLP_TRACES_HEADERS, OTEL_EXPORTER_OTLP_TIMEOUT and
// OTEL_EXPORTER_OTLP_[TRACES_]COMPRESSION (gzip or none).
type otlpHTTPClient struct {
	url     string
	headers map[string]string
	client  *http.Client
	gzip    bool
}

// newOTLPExporter returns an OTLP/HTTP span exporter posting to url.
func newOTLPExporter(ctx context.Context, endpoint string) (*otlptrace.Exporter, error) {
	c := &otlpHTTPClient{
		url:     endpoint,
		headers: otlpHeaders(os.Getenv("OTEL_EXPORTER_OTLP_HEADERS")),
		client:  &http.Client{Timeout: 10 * time.Second},
	}
	for k, v := range otlpHeaders(os.Getenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS")) {
		c.headers[k] = v
	}
	if ms := os.Getenv("OTEL_EXPORTER_OTLP_TIMEOUT"); ms != "" {
		var n int
		if _, err := fmt.Sscan(ms, &n); err != nil || n <= 0 {
			return nil, fmt.Errorf("%w: OTEL_EXPORTER_OTLP_TIMEOUT: %q is not a number of milliseconds", ErrConfigValidation, ms)
		}
		c.client.Timeout = time.Duration(n) * time.Millisecond
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"} {
		v, ok := os.LookupEnv(name)
		if !ok {
			continue
		}
		switch strings.TrimSpace(v) {
		case "gzip":
			c.gzip = true
		case "none", "":
		default:
			return nil, fmt.Errorf("%w: %s: %q is not gzip or none", ErrConfigValidation, name, v)
		}
		break // the traces variable wins
	}
	return otlptrace.New(ctx, c)
}

// otlpHeaders parses "k1=v1,k2=v2" with URL-encoded values.
func otlpHeaders(s string) map[string]string {
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

// Start has nothing to do: each upload is one HTTP request.
func (c *otlpHTTPClient) Start(context.Context) error { return nil }

// Stop closes idle connections.
func (c *otlpHTTPClient) Stop(context.Context) error {
	c.client.CloseIdleConnections()
	return nil
}

// UploadTraces posts one batch. TracesData has the wire format of the
// collector's ExportTraceServiceRequest (field 1, repeated ResourceSpans),
// as the OTLP specification promises.
func (c *otlpHTTPClient) UploadTraces(ctx context.Context, spans []*tracepb.ResourceSpans) error {
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
func (c *otlpHTTPClient) post(ctx context.Context, body []byte) (retry bool, err error) {
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
	resp, err := c.client.Do(req)
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
