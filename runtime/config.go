package runtime

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"

	"github.com/nats-io/nats.go"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"go.opentelemetry.io/otel/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Config is how a function process connects and behaves. main reads it from
// the environment with LoadConfig; libraries and tests build it as a value.
type Config struct {
	// NATSURL lists the servers, comma-separated.
	NATSURL string `env:"NATS_URL" envDefault:"nats://127.0.0.1:4222"`
	// User and Password authenticate with a username and password.
	User     string `env:"NATS_USER"`
	Password string `env:"NATS_PASSWORD"`
	// Token authenticates with a token.
	Token string `env:"NATS_TOKEN"`
	// CredsFile is a .creds file (JWT and nkey seed).
	CredsFile string `env:"NATS_CREDS"`
	// NKeySeedFile is a file holding an nkey seed.
	NKeySeedFile string `env:"NATS_NKEY_SEED"`
	// TLSCert, TLSKey and TLSCA are PEM files for TLS.
	TLSCert string `env:"NATS_TLS_CERT"`
	TLSKey  string `env:"NATS_TLS_KEY"`
	TLSCA   string `env:"NATS_TLS_CA"`

	// InstanceID names this instance in the connection name and logs;
	// the host name by default.
	InstanceID string `env:"NATSFN_INSTANCE_ID"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `env:"NATSFN_LOG_LEVEL" envDefault:"info"`
	// LogFormat is json or text.
	LogFormat string `env:"NATSFN_LOG_FORMAT" envDefault:"json"`
	// OpsAddr is the ops HTTP address (/healthz, /readyz, /metrics);
	// "off", or empty in a Config built as a value, disables it.
	OpsAddr string `env:"NATSFN_OPS_ADDR" envDefault:":8080"`
	// ShutdownTimeout bounds a graceful shutdown.
	ShutdownTimeout time.Duration `env:"NATSFN_SHUTDOWN_TIMEOUT" envDefault:"30s"`
	// ConnectTimeout bounds the wait for the first connection.
	ConnectTimeout time.Duration `env:"NATSFN_CONNECT_TIMEOUT" envDefault:"60s"`
	// Replicas is the replica count of the streams and buckets a function
	// creates: 1 on one server, 3 on a cluster.
	Replicas int `env:"NATSFN_REPLICAS" envDefault:"1"`
	// StreamMaxAge and StreamMaxBytes bound each event stream the function
	// declares (not its buckets, and not where the declaration sets its
	// own): the oldest events go first. A negative value means no limit.
	// Every instance of every function should agree, or each start updates
	// the stream to its own figures.
	StreamMaxAge   time.Duration `env:"NATSFN_STREAM_MAX_AGE" envDefault:"168h"`
	StreamMaxBytes int64         `env:"NATSFN_STREAM_MAX_BYTES" envDefault:"536870912"`
	// DeadLetterMaxAge and DeadLetterMaxBytes bound the shared DEADLETTER
	// stream, as StreamMaxAge and StreamMaxBytes do the event streams.
	DeadLetterMaxAge   time.Duration `env:"NATSFN_DEADLETTER_MAX_AGE" envDefault:"336h"`
	DeadLetterMaxBytes int64         `env:"NATSFN_DEADLETTER_MAX_BYTES" envDefault:"268435456"`
	// AckWait, when set, is the AckWait of every event handler's consumer,
	// whatever the handler's own AckWait option says: the operator's word
	// on how long a lost instance may hold messages before the server
	// redelivers them to the others. Empty keeps each handler's own.
	AckWait time.Duration `env:"NATSFN_ACK_WAIT"`
	// MinPending is this instance's threshold in the event handlers
	// declared Overflow: it pulls their events only while at least this
	// many wait, a standby that helps with a backlog. 0 pulls always.
	MinPending int64 `env:"NATSFN_MIN_PENDING"`
	// Priority is this instance's rank in the event handlers declared
	// Prioritized: those with 0 (the default) are served first, 9 last.
	Priority int `env:"NATSFN_PRIORITY"`
	// Phases sets, per event family, which majors the function publishes
	// when it emits one: NATSFN_PHASES="inventory.reserved=dual,
	// payments.completed=v2". v1 (or v<N>) publishes that major only,
	// dual majors 1 and 2 in one atomic batch. A family left out is
	// published as the code emits it. Every major a phase names must be
	// declared in the handler's Emits (versions.go).
	Phases map[string]string `env:"NATSFN_PHASES" envKeyValSeparator:"="`

	// TracesExporter is where spans go: "otlp", "console" (stdout) or
	// "none". Empty means otlp when an OTLP endpoint is set and no tracing
	// otherwise, so a process nobody configured pays nothing for tracing.
	TracesExporter string `env:"OTEL_TRACES_EXPORTER"`
	// Traces is a shorthand: "stdout" prints spans as OTEL_TRACES_EXPORTER=
	// console does; "off" turns tracing off whatever else is set.
	Traces string `env:"NATSFN_TRACES"`
	// OTLPEndpoint is the collector's base URL for OTLP over HTTP, e.g.
	// http://otel-collector:4318; spans go to <endpoint>/v1/traces.
	OTLPEndpoint string `env:"OTEL_EXPORTER_OTLP_ENDPOINT"`
	// OTLPTracesEndpoint is the full URL spans are posted to; it wins over
	// OTLPEndpoint.
	OTLPTracesEndpoint string `env:"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"`
	// OTLPHeaders and OTLPTracesHeaders ("k1=v1,k2=v2", values URL-encoded)
	// go with every export; the traces ones win.
	OTLPHeaders       string `env:"OTEL_EXPORTER_OTLP_HEADERS"`
	OTLPTracesHeaders string `env:"OTEL_EXPORTER_OTLP_TRACES_HEADERS"`
	// OTLPTimeout bounds one export, in milliseconds (10000 when 0).
	OTLPTimeout int `env:"OTEL_EXPORTER_OTLP_TIMEOUT"`
	// OTLPCompression and OTLPTracesCompression are "gzip" or "none"; the
	// traces one wins.
	OTLPCompression       string `env:"OTEL_EXPORTER_OTLP_COMPRESSION"`
	OTLPTracesCompression string `env:"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"`
	// TracesSampler and TracesSamplerArg choose which traces are kept:
	// always_on, always_off, traceidratio, parentbased_always_on (the
	// default), parentbased_always_off or parentbased_traceidratio, with the
	// ratio (0 to 1, default 1) as the argument.
	TracesSampler    string `env:"OTEL_TRACES_SAMPLER"`
	TracesSamplerArg string `env:"OTEL_TRACES_SAMPLER_ARG"`
	// ServiceName and ResourceAttributes ("k1=v1,k2=v2") describe the
	// process to a tracing or metrics backend; ServiceName wins over the
	// service's own name and over a service.name in ResourceAttributes.
	ServiceName        string `env:"OTEL_SERVICE_NAME"`
	ResourceAttributes string `env:"OTEL_RESOURCE_ATTRIBUTES"`
	// OTelDisabled (OTEL_SDK_DISABLED=true) turns tracing off.
	OTelDisabled bool `env:"OTEL_SDK_DISABLED"`
	// OTLPProtocol and OTLPTracesProtocol name the OTLP transport; the
	// runtime speaks http/protobuf only (the default), and refuses grpc
	// and http/json rather than post to a port that expects them.
	OTLPProtocol       string `env:"OTEL_EXPORTER_OTLP_PROTOCOL"`
	OTLPTracesProtocol string `env:"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"`
	// OTLPCertificate is a PEM file of the CA that signs an https
	// collector's certificate (the system's CAs when empty);
	// OTLPClientCertificate and OTLPClientKey, PEM files too, are the
	// client certificate a collector asking for one gets. The TRACES ones
	// win.
	OTLPCertificate             string `env:"OTEL_EXPORTER_OTLP_CERTIFICATE"`
	OTLPTracesCertificate       string `env:"OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE"`
	OTLPClientCertificate       string `env:"OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"`
	OTLPTracesClientCertificate string `env:"OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE"`
	OTLPClientKey               string `env:"OTEL_EXPORTER_OTLP_CLIENT_KEY"`
	OTLPTracesClientKey         string `env:"OTEL_EXPORTER_OTLP_TRACES_CLIENT_KEY"`
	// BSPScheduleDelay (milliseconds, default 1000: a span waits at most
	// this long for its export), BSPExportTimeout (milliseconds, default
	// 30000: one export, retries included), BSPMaxQueueSize (spans waiting,
	// default 4096; more are dropped and counted) and BSPMaxExportBatchSize
	// (spans per export, default 512) tune the runtime's span batcher.
	BSPScheduleDelay      int `env:"OTEL_BSP_SCHEDULE_DELAY"`
	BSPExportTimeout      int `env:"OTEL_BSP_EXPORT_TIMEOUT"`
	BSPMaxQueueSize       int `env:"OTEL_BSP_MAX_QUEUE_SIZE"`
	BSPMaxExportBatchSize int `env:"OTEL_BSP_MAX_EXPORT_BATCH_SIZE"`

	// Logger overrides the logger built from LogLevel and LogFormat.
	Logger *slog.Logger `env:"-"`
	// InProcessServer, when set, is a NATS server in this process (an
	// embedded *server.Server) that the function connects to through its
	// InProcessConn, a pipe in memory, instead of dialling NATSURL over TCP:
	// no socket, no system call per read or write. The all-in-one (`make
	// run`) connects its functions so; `make load` measured 17% more
	// orders a second at full speed and 5-11% less CPU an order.
	// NATSURL still names the connection in logs; credentials and TLS
	// apply as over TCP.
	InProcessServer nats.InProcessConnProvider `env:"-"`
	// TracerProvider overrides the one built from the OTEL_* settings, e.g.
	// a test's provider with an in-memory exporter. Start does not shut it
	// down. A trace/noop provider turns tracing off.
	TracerProvider trace.TracerProvider `env:"-"`
	// MeterProvider overrides the Prometheus one Start builds for /metrics,
	// e.g. a test's provider with a ManualReader (fntest.Metrics). /metrics
	// is then not served: the provider's owner exports its metrics.
	MeterProvider metric.MeterProvider `env:"-"`
	// OpsHandlers are served on the ops port beside /healthz, /readyz and
	// /metrics, keyed by http.ServeMux pattern ("/console/", "GET /api/"):
	// how the all-in-one serves a web console. A pattern that clashes is a
	// configuration error; with the ops port off they are not served.
	OpsHandlers map[string]http.Handler `env:"-"`

	// pollEvery replaces pendingPollEvery, for tests.
	pollEvery time.Duration
	// spanExporter, set by tests (export_test.go), is where a tracer
	// provider the runtime builds sends spans when no exporter is
	// configured, so that tests and benchmarks exercise that provider.
	spanExporter sdktrace.SpanExporter
}

// LoadConfig reads the environment. Its error names the variable at fault.
func LoadConfig() (Config, error) {
	cfg, err := env.ParseAs[Config]()
	if err != nil {
		return Config{}, fmt.Errorf("%w: %w", ErrConfigValidation, flattenEnvError(err))
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// flattenEnvError reports the first of caarlos0/env's errors, naming the
// environment variable rather than the Go field.
func flattenEnvError(err error) error {
	var agg env.AggregateError
	if errors.As(err, &agg) && len(agg.Errors) > 0 {
		err = agg.Errors[0]
	}
	var pe env.ParseError
	if errors.As(err, &pe) {
		if f, ok := reflect.TypeFor[Config]().FieldByName(pe.Name); ok {
			name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
			return fmt.Errorf("%s: %q cannot be read as %s: %w", name, os.Getenv(name), pe.Type, pe.Err)
		}
	}
	return err
}

// Validate fills in the defaults of the settings left zero and reports the
// first setting that cannot work, naming its variable. So a Config built
// as a value needs only what differs: runtime.Config{NATSURL: url} runs
// against url with JSON logs at info level and no ops port.
func (c *Config) Validate() error {
	bad := func(name, format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrConfigValidation, name, fmt.Sprintf(format, args...))
	}
	c.defaults()
	if strings.TrimSpace(c.NATSURL) == "" {
		return bad("NATS_URL", "must list at least one server")
	}
	for _, u := range strings.Split(c.NATSURL, ",") {
		u = strings.TrimSpace(u)
		if !strings.Contains(u, "://") {
			if _, _, err := net.SplitHostPort(u); err != nil {
				return bad("NATS_URL", "%q is not a server URL (nats://host:port)", u)
			}
		}
	}
	if c.Password != "" && c.User == "" {
		return bad("NATS_USER", "is required with NATS_PASSWORD")
	}
	if c.User != "" && (c.Token != "" || c.CredsFile != "") {
		return bad("NATS_USER", "give one of NATS_USER, NATS_TOKEN, NATS_CREDS")
	}
	for name, path := range map[string]string{"NATS_CREDS": c.CredsFile, "NATS_NKEY_SEED": c.NKeySeedFile,
		"NATS_TLS_CERT": c.TLSCert, "NATS_TLS_KEY": c.TLSKey, "NATS_TLS_CA": c.TLSCA} {
		if path == "" {
			continue
		}
		if _, err := os.Stat(path); err != nil {
			return bad(name, "cannot read %s: %v", path, err)
		}
	}
	if _, err := c.natsTLS(); err != nil {
		return err
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return bad("NATSFN_LOG_LEVEL", "%v", err)
	}
	if c.LogFormat != "json" && c.LogFormat != "text" {
		return bad("NATSFN_LOG_FORMAT", "%q is not json or text", c.LogFormat)
	}
	if c.OpsAddr != "off" && c.OpsAddr != "" {
		if _, _, err := net.SplitHostPort(c.OpsAddr); err != nil {
			return bad("NATSFN_OPS_ADDR", "%q is not host:port", c.OpsAddr)
		}
	}
	if c.ShutdownTimeout <= 0 {
		return bad("NATSFN_SHUTDOWN_TIMEOUT", "must be positive")
	}
	if c.ConnectTimeout <= 0 {
		return bad("NATSFN_CONNECT_TIMEOUT", "must be positive")
	}
	if c.Replicas < 1 || c.Replicas > 5 {
		return bad("NATSFN_REPLICAS", "%d is not between 1 and 5", c.Replicas)
	}
	for _, d := range []struct {
		name string
		age  time.Duration
	}{{"NATSFN_STREAM_MAX_AGE", c.StreamMaxAge}, {"NATSFN_DEADLETTER_MAX_AGE", c.DeadLetterMaxAge}} {
		// The duplicate window (10 min for DEADLETTER, 2 min for an event
		// stream) may not exceed MaxAge.
		if d.age > 0 && d.age < 10*time.Minute {
			return bad(d.name, "%s is less than 10m (negative: no limit)", d.age)
		}
	}
	for _, b := range []struct {
		name string
		n    int64
	}{{"NATSFN_STREAM_MAX_BYTES", c.StreamMaxBytes}, {"NATSFN_DEADLETTER_MAX_BYTES", c.DeadLetterMaxBytes}} {
		if b.n > 0 && b.n < 1<<20 {
			return bad(b.name, "%d is less than 1 MiB (1048576; negative: no limit)", b.n)
		}
	}
	if c.AckWait < 0 || (c.AckWait > 0 && c.AckWait < time.Second) {
		return bad("NATSFN_ACK_WAIT", "%s is less than 1s", c.AckWait)
	}
	if c.MinPending < 0 {
		return bad("NATSFN_MIN_PENDING", "%d is negative", c.MinPending)
	}
	if c.Priority < 0 || c.Priority > 9 {
		return bad("NATSFN_PRIORITY", "%d is not between 0 and 9", c.Priority)
	}
	if err := validatePhases(c.Phases); err != nil {
		return err
	}
	c.Phases = trimPhases(c.Phases)
	if err := c.validateOTel(); err != nil {
		return err
	}
	if c.InstanceID == "" {
		c.InstanceID, _ = os.Hostname()
	}
	if c.InstanceID == "" {
		c.InstanceID = "local"
	}
	return nil
}

// defaults fills in the zero settings that have a default (an empty
// OpsAddr stays off).
func (c *Config) defaults() {
	if c.NATSURL == "" {
		c.NATSURL = "nats://127.0.0.1:4222"
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.LogFormat == "" {
		c.LogFormat = "json"
	}
	if c.ShutdownTimeout == 0 {
		c.ShutdownTimeout = 30 * time.Second
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = 60 * time.Second
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.StreamMaxAge == 0 {
		c.StreamMaxAge = 7 * 24 * time.Hour
	}
	if c.StreamMaxBytes == 0 {
		c.StreamMaxBytes = 512 << 20
	}
	if c.DeadLetterMaxAge == 0 {
		c.DeadLetterMaxAge = 14 * 24 * time.Hour
	}
	if c.DeadLetterMaxBytes == 0 {
		c.DeadLetterMaxBytes = 256 << 20
	}
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("%q is not debug, info, warn or error", s)
	}
	return l, nil
}

// newLogger builds the slog logger the config asks for.
func (c Config) newLogger() *slog.Logger {
	if c.Logger != nil {
		return c.Logger
	}
	level, _ := parseLevel(c.LogLevel)
	opts := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewJSONHandler(os.Stderr, opts))
}
