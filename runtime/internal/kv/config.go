package kv

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel/trace"

	"github.com/natsfn/natsfn/runtime/internal/retry"
)

// Config describes a bucket. Open creates the bucket from it, or brings an
// existing bucket in line with it.
type Config struct {
	// Bucket names the bucket (letters, digits, '-' and '_'); its stream
	// is KV_<Bucket>. Required.
	Bucket string
	// Description is shown by `nats kv info`.
	Description string
	// History is how many values a key keeps, 1 (the default) to 64.
	History uint8
	// TTL is how long a value lives; 0 keeps values until they are
	// replaced or deleted.
	TTL time.Duration
	// MaxBytes bounds the bucket's size; 0 leaves it unbounded.
	MaxBytes int64
	// Replicas is the number of copies, 1 (the default) or 3 on a cluster.
	Replicas int
	// Storage is jetstream.FileStorage (the default) or MemoryStorage.
	Storage jetstream.StorageType
	// DuplicateWindow is how long the bucket remembers a write's
	// Nats-Msg-Id, which is how a retried write that had landed is
	// recognised; writes stop retrying before it ends. 2 minutes by
	// default, and at most TTL. The server keeps about 100 bytes per write
	// for this long.
	DuplicateWindow time.Duration
	// Tracer, when set, traces every write as a child of the span in the
	// write's context; nil traces nothing and costs nothing.
	Tracer trace.Tracer
}

// Limits of a bucket.
const (
	maxHistory = 64
	// maxBatch is the server's default bound on an atomic batch
	// (JetStreamLimits.MaxBatchSize).
	maxBatch = 1000
	// defaultDuplicateWindow is the server's and nats.go's KV default.
	defaultDuplicateWindow = 2 * time.Minute
)

// ErrConfig is wrapped by the errors of a Config that cannot be.
var ErrConfig = errors.New("invalid bucket config")

// validate checks cfg and fills in its defaults.
func (cfg *Config) validate() error {
	if !validBucket(cfg.Bucket) {
		return fmt.Errorf("kv: bucket name %q: want letters, digits, '-' and '_': %w", cfg.Bucket, ErrConfig)
	}
	switch {
	case cfg.History > maxHistory:
		return fmt.Errorf("kv %s: history %d: at most %d: %w", cfg.Bucket, cfg.History, maxHistory, ErrConfig)
	case cfg.TTL < 0:
		return fmt.Errorf("kv %s: negative TTL %v: %w", cfg.Bucket, cfg.TTL, ErrConfig)
	case cfg.MaxBytes < 0:
		return fmt.Errorf("kv %s: negative MaxBytes %d: %w", cfg.Bucket, cfg.MaxBytes, ErrConfig)
	case cfg.Replicas < 0 || cfg.Replicas > 5:
		return fmt.Errorf("kv %s: replicas %d: want 1 to 5: %w", cfg.Bucket, cfg.Replicas, ErrConfig)
	case cfg.DuplicateWindow < 0:
		return fmt.Errorf("kv %s: negative DuplicateWindow %v: %w", cfg.Bucket, cfg.DuplicateWindow, ErrConfig)
	case cfg.Storage != jetstream.FileStorage && cfg.Storage != jetstream.MemoryStorage:
		return fmt.Errorf("kv %s: unknown storage %v: %w", cfg.Bucket, cfg.Storage, ErrConfig)
	}
	if cfg.History == 0 {
		cfg.History = 1
	}
	if cfg.Replicas == 0 {
		cfg.Replicas = 1
	}
	if cfg.DuplicateWindow == 0 {
		cfg.DuplicateWindow = defaultDuplicateWindow
	}
	if cfg.TTL > 0 && cfg.DuplicateWindow > cfg.TTL {
		cfg.DuplicateWindow = cfg.TTL // the server requires it
	}
	return nil
}

func validBucket(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// Open returns the bucket cfg describes, creating it if it does not exist
// and updating it if it differs, values of type T stored as JSON. It is
// idempotent: every instance of a function calls it at start.
//
// Open also turns on the stream's AllowAtomicPublish, which transactions
// need and jetstream.KeyValueConfig cannot set. It never turns it off,
// even for a moment: an update made through nats.go's
// CreateOrUpdateKeyValue would, failing other instances' commits while it
// lasts, so Open updates the stream itself. Transient failures (a cluster
// still electing its leaders) are retried until ctx ends, or for 30 s.
func Open[T any](ctx context.Context, js jetstream.JetStream, cfg Config) (*Bucket[T], error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	var st jetstream.Stream
	err := retry.Policy{}.Do(ctx, func(ctx context.Context) error {
		var err error
		st, err = ensure(ctx, js, cfg)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("kv %s: open: %w", cfg.Bucket, err)
	}
	return &Bucket[T]{e: newEngine(js, st, cfg)}, nil
}

// ensure creates the bucket or updates its stream to match cfg. A new
// bucket's stream is created as nats.go's CreateKeyValue would make it,
// with AllowAtomicPublish on from the start: creating it through
// CreateKeyValue and then updating it cost every first start an update,
// and an update of a stream while consumers are being made on it races in
// nats-server (fileStore.UpdateConfig against ConsumerStore, reported by
// the race detector). An existing stream is updated only when it differs.
func ensure(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Stream, error) {
	name := "KV_" + cfg.Bucket
	st, err := js.Stream(ctx, name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = js.CreateStream(ctx, newStreamConfig(cfg))
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			// Another instance created it first, perhaps otherwise.
			st, err = retry.ExistingStream(ctx, js, name, 2*time.Second)
		}
	}
	if err != nil {
		return nil, err
	}
	have := st.CachedInfo().Config
	want := streamConfig(have, cfg)
	if same(have, want) {
		return st, nil
	}
	return js.UpdateStream(ctx, want)
}

// newStreamConfig is the stream of a new bucket: what nats.go's
// CreateKeyValue makes (jetstream.prepareKeyValueConfig, nats.go v1.55),
// with cfg's settings and AllowAtomicPublish.
func newStreamConfig(cfg Config) jetstream.StreamConfig {
	return streamConfig(jetstream.StreamConfig{
		Name:         "KV_" + cfg.Bucket,
		Subjects:     []string{"$KV." + cfg.Bucket + ".>"},
		MaxMsgSize:   -1,
		MaxMsgs:      -1,
		MaxConsumers: -1,
		AllowRollup:  true,
		DenyDelete:   true,
		AllowDirect:  true,
		Discard:      jetstream.DiscardNew,
	}, cfg)
}

// streamConfig is the bucket's stream config with cfg's settings applied.
func streamConfig(sc jetstream.StreamConfig, cfg Config) jetstream.StreamConfig {
	sc.Description = cfg.Description
	sc.MaxMsgsPerSubject = int64(cfg.History)
	sc.MaxAge = cfg.TTL
	sc.MaxBytes = cfg.MaxBytes
	if sc.MaxBytes == 0 {
		sc.MaxBytes = -1
	}
	sc.Replicas = cfg.Replicas
	sc.Storage = cfg.Storage
	sc.Duplicates = cfg.DuplicateWindow
	sc.AllowAtomicPublish = true
	return sc
}

// same compares the settings streamConfig sets.
func same(a, b jetstream.StreamConfig) bool {
	return a.Description == b.Description && a.MaxMsgsPerSubject == b.MaxMsgsPerSubject &&
		a.MaxAge == b.MaxAge && a.MaxBytes == b.MaxBytes && a.Replicas == b.Replicas &&
		a.Storage == b.Storage && a.Duplicates == b.Duplicates && a.AllowAtomicPublish == b.AllowAtomicPublish
}
