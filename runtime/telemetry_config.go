package runtime

import (
	"cmp"
	"crypto/tls"
	"fmt"
	"strconv"
	"strings"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/natsfn/natsfn/runtime/internal/otlp"
	"github.com/natsfn/natsfn/runtime/internal/spanbatch"
)

// The OTEL_* settings: which exporter, where, how, and their checks.

// tracesExporter names the exporter the config asks for, or "" for none.
func (c Config) tracesExporter() string {
	switch {
	case c.Traces == "off" || c.OTelDisabled || c.TracesExporter == "none":
		return ""
	case c.Traces == "stdout" || c.TracesExporter == "console":
		return "console"
	case c.TracesExporter == "otlp" || c.OTLPEndpoint != "" || c.OTLPTracesEndpoint != "":
		return "otlp"
	}
	return ""
}

// otlpSettings are the OTLP exporter's settings from the config.
func (c Config) otlpSettings() (otlp.Settings, error) {
	s := otlp.Settings{URL: "http://localhost:4318/v1/traces", Headers: otlp.ParseList(c.OTLPHeaders),
		Timeout: time.Duration(c.OTLPTimeout) * time.Millisecond}
	switch {
	case c.OTLPTracesEndpoint != "":
		s.URL = c.OTLPTracesEndpoint
	case c.OTLPEndpoint != "":
		s.URL = strings.TrimRight(c.OTLPEndpoint, "/") + "/v1/traces"
	}
	for k, v := range otlp.ParseList(c.OTLPTracesHeaders) {
		s.Headers[k] = v
	}
	compression := strings.TrimSpace(c.OTLPTracesCompression)
	if compression == "" {
		compression = strings.TrimSpace(c.OTLPCompression)
	}
	s.Gzip = compression == "gzip"
	tc, err := c.otlpTLS()
	s.TLS = tc
	return s, err
}

// sampler is the sampler OTEL_TRACES_SAMPLER names; nil keeps the SDK's
// default (parentbased_always_on).
func (c Config) sampler() (sdktrace.Sampler, error) {
	ratio := 1.0
	if c.TracesSamplerArg != "" && strings.HasSuffix(c.TracesSampler, "traceidratio") {
		r, err := strconv.ParseFloat(c.TracesSamplerArg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, fmt.Errorf("%w: OTEL_TRACES_SAMPLER_ARG: %q is not a ratio from 0 to 1", ErrConfigValidation, c.TracesSamplerArg)
		}
		ratio = r
	}
	switch c.TracesSampler {
	case "":
		return nil, nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	case "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	}
	return nil, fmt.Errorf("%w: OTEL_TRACES_SAMPLER: %q is not always_on, always_off, traceidratio, "+
		"parentbased_always_on, parentbased_always_off or parentbased_traceidratio", ErrConfigValidation, c.TracesSampler)
}

// validateOTel checks the OTEL_* settings, naming the variable at fault.
func (c *Config) validateOTel() error {
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrConfigValidation, name, fmt.Sprintf(format, args...))
	}
	switch c.TracesExporter {
	case "", "otlp", "console", "none":
	default:
		return bad("OTEL_TRACES_EXPORTER", "%q is not otlp, console or none", c.TracesExporter)
	}
	if c.Traces != "" && c.Traces != "stdout" && c.Traces != "off" {
		return bad("NATSFN_TRACES", "%q is not stdout or off", c.Traces)
	}
	for _, v := range []envVar{{"OTEL_EXPORTER_OTLP_ENDPOINT", c.OTLPEndpoint},
		{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", c.OTLPTracesEndpoint}} {
		if v.value != "" && !strings.HasPrefix(v.value, "http://") && !strings.HasPrefix(v.value, "https://") {
			return bad(v.name, "%q is not an http:// or https:// URL", v.value)
		}
	}
	for _, v := range []envVar{{"OTEL_EXPORTER_OTLP_COMPRESSION", c.OTLPCompression},
		{"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", c.OTLPTracesCompression}} {
		if s := strings.TrimSpace(v.value); s != "" && s != "gzip" && s != "none" {
			return bad(v.name, "%q is not gzip or none", s)
		}
	}
	if c.OTLPTimeout < 0 {
		return bad("OTEL_EXPORTER_OTLP_TIMEOUT", "%d is not a number of milliseconds", c.OTLPTimeout)
	}
	for _, v := range []envVar{{"OTEL_EXPORTER_OTLP_PROTOCOL", c.OTLPProtocol},
		{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", c.OTLPTracesProtocol}} {
		switch p := strings.TrimSpace(v.value); p {
		case "", "http/protobuf":
		case "grpc":
			return bad(v.name, "grpc is not supported: natsfn sends OTLP over HTTP (http/protobuf), to the collector's "+
				"HTTP receiver (port 4318 by default), never to a gRPC port (4317)")
		case "http/json":
			return bad(v.name, "http/json is not supported: natsfn sends http/protobuf, which every OTLP/HTTP receiver accepts")
		default:
			return bad(v.name, "%q is not grpc, http/protobuf or http/json", p)
		}
	}
	for _, v := range []struct {
		name string
		n    int
	}{{"OTEL_BSP_SCHEDULE_DELAY", c.BSPScheduleDelay}, {"OTEL_BSP_EXPORT_TIMEOUT", c.BSPExportTimeout},
		{"OTEL_BSP_MAX_QUEUE_SIZE", c.BSPMaxQueueSize}, {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", c.BSPMaxExportBatchSize}} {
		if v.n < 0 {
			return bad(v.name, "%d is negative", v.n)
		}
	}
	if o := c.batchOptions(); c.BSPMaxExportBatchSize > 0 && c.BSPMaxExportBatchSize > o.MaxQueue {
		return bad("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "%d is more than the queue holds (OTEL_BSP_MAX_QUEUE_SIZE %d)",
			c.BSPMaxExportBatchSize, o.MaxQueue)
	}
	if _, err := c.sampler(); err != nil {
		return err
	}
	if c.tracesExporter() == "otlp" {
		if _, err := c.otlpTLS(); err != nil {
			return err
		}
	}
	return nil
}

// otlpTLS is the TLS configuration of the OTLP client: the CA of
// OTEL_EXPORTER_OTLP_CERTIFICATE and the client certificate and key;
// nil when none is set.
func (c Config) otlpTLS() (*tls.Config, error) {
	ca := pick(envVar{"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE", c.OTLPTracesCertificate},
		envVar{"OTEL_EXPORTER_OTLP_CERTIFICATE", c.OTLPCertificate})
	cert := pick(envVar{"OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE", c.OTLPTracesClientCertificate},
		envVar{"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", c.OTLPClientCertificate})
	key := pick(envVar{"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY", c.OTLPTracesClientKey},
		envVar{"OTEL_EXPORTER_OTLP_CLIENT_KEY", c.OTLPClientKey})
	if ca.value == "" && cert.value == "" && key.value == "" {
		return nil, nil
	}
	tc, err := tlsConfig(ca, cert, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfigValidation, err)
	}
	return tc, nil
}

// batchOptions are the span batcher's settings from OTEL_BSP_*.
func (c Config) batchOptions() spanbatch.Options {
	return spanbatch.Options{
		MaxBatch: c.BSPMaxExportBatchSize,
		MaxQueue: cmp.Or(c.BSPMaxQueueSize, spanbatch.DefaultMaxQueue),
		Delay:    time.Duration(c.BSPScheduleDelay) * time.Millisecond,
		Timeout:  time.Duration(c.BSPExportTimeout) * time.Millisecond,
	}
}
