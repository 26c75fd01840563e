package kv

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime/internal/retry"
)

// engine is the untyped part of a bucket: reads and conditional writes of
// bytes, with their retries and spans.
type engine struct {
	bucket   string
	js       jetstream.JetStream
	stream   jetstream.Stream // KV_<bucket>, for direct gets
	prefix   string           // "$KV.<bucket>."
	api      string           // the JetStream API prefix, "$JS.API." by default
	replicas int
	window   time.Duration // the duplicate window
	// policy spaces the retries of transient failures. It starts at a few
	// milliseconds, for 10164 (see retry.CodeSubjectInFlight) passes in
	// less, and doubles up to 2 s for the elections that take seconds.
	policy retry.Policy
	// conflicts spaces the retries of a lost compare-and-swap (Modify,
	// Transact): the winner has written already, so the first retry may go
	// almost at once, and the jitter spreads writers that keep colliding.
	conflicts retry.Policy
	trace     tracer
	replies   replies // of multi-key reads
	locks     *keyLocks
	// groups commits transactions together on a single-replica file
	// bucket; nil elsewhere.
	groups *groups
	// recent is what Modify last wrote to each key.
	recent recent
}

// maxConflicts bounds the attempts of one Modify or Transact.
const maxConflicts = 50

func newEngine(js jetstream.JetStream, st jetstream.Stream, cfg Config) *engine {
	sc := st.CachedInfo().Config
	var g *groups
	if sc.Replicas <= 1 && sc.Storage == jetstream.FileStorage {
		g = &groups{}
	}
	return &engine{
		groups:    g,
		bucket:    cfg.Bucket,
		js:        js,
		stream:    st,
		prefix:    "$KV." + cfg.Bucket + ".",
		api:       apiPrefix(js.Options()),
		replicas:  sc.Replicas,
		window:    sc.Duplicates,
		policy:    retry.Policy{Initial: 5 * time.Millisecond},
		conflicts: retry.Policy{Initial: 2 * time.Millisecond, Max: 200 * time.Millisecond},
		trace:     newTracer(cfg.Tracer, cfg.Bucket),
		replies:   replies{nc: js.Conn()},
		locks:     newKeyLocks(),
	}
}

// apiPrefix is the subject prefix of JetStream API requests.
func apiPrefix(o jetstream.JetStreamOptions) string {
	switch {
	case o.APIPrefix != "":
		return strings.TrimSuffix(o.APIPrefix, ".") + "."
	case o.Domain != "":
		return "$JS." + o.Domain + ".API."
	}
	return jetstream.DefaultAPIPrefix
}

// checkKey rejects a key that is not a valid KV key.
func (e *engine) checkKey(key string) error {
	if !validKey(key) {
		return fmt.Errorf("kv %s: invalid key %q: %w", e.bucket, key, jetstream.ErrInvalidKey)
	}
	return nil
}

// validKey follows nats.go's rule: letters, digits and -/_=. with no dot
// at either end, plus no empty subject token.
func validKey(key string) bool {
	if key == "" || key[0] == '.' || key[len(key)-1] == '.' || strings.Contains(key, "..") {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '/' || c == '_' || c == '=' || c == '.') {
			return false
		}
	}
	return true
}

// change is one key's write: a new value, or a delete, conditioned on the
// key's revision being at.
type change struct {
	key  string
	data []byte
	del  bool
	// at is the revision the key was read at: the sequence of its last
	// message, a tombstone's included, or 0 when it has none.
	at uint64
}

// Headers of a KV message.
const (
	hdrOperation = "KV-Operation"
	opDel        = "DEL"
	opPurge      = "PURGE"
	// hdrMarker is set on the markers the server writes when a message
	// expires or is removed (streams with AllowMsgTTL).
	hdrMarker = "Nats-Marker-Reason"
)

// message builds the stream message of c, identified by id.
func (e *engine) message(c change, id string) *nats.Msg {
	h := nats.Header{
		nats.MsgIdHdr:                       {id},
		jetstream.ExpectedLastSubjSeqHeader: {strconv.FormatUint(c.at, 10)},
	}
	if c.del {
		h[hdrOperation] = []string{opDel}
	}
	return &nats.Msg{Subject: e.prefix + c.key, Header: h, Data: c.data}
}

// withinWindow bounds ctx so that no retry of a write starts after the
// duplicate window of its first attempt has ended: past it, the stream no
// longer recognises the write's id, and a retry could apply it twice. A
// context without a deadline gets writeBudget.
func (e *engine) withinWindow(ctx context.Context) (context.Context, context.CancelFunc) {
	limit := writeBudget
	if e.window > 0 {
		limit = e.window * 9 / 10
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		limit = min(limit, writeBudget)
	} else if time.Until(deadline) <= limit {
		return ctx, func() {} // ctx ends first anyway
	}
	return context.WithTimeout(ctx, limit)
}

// writeBudget bounds the retries of a write whose context has no deadline.
const writeBudget = 30 * time.Second
