package runtime

import (
	"context"
	"errors"
	"maps"
	"reflect"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime/internal/retry"
)

// existingWait is how long a stream the server said exists may be
// reported missing by a lagging meta leader before that is believed
// (retry.ExistingStream).
const existingWait = 2 * time.Second

// An instance that starts makes its streams and consumers as declared. A
// create-or-update of one that already is as declared still goes through
// the cluster's meta leader and its Raft log (nats-server applies even an
// identical update), so every start of every instance cost one replicated
// write per stream and per consumer. ensureStream and ensureConsumer read
// first (the leader of the stream or consumer answers, nothing is
// replicated) and write only what differs: after the first instance, a
// start makes no write at all.

// ensureStream makes the stream as cfg declares it: left alone when it is
// so already, created or updated otherwise.
//
// A missing stream is created with a create request, not nats.go's
// CreateOrUpdateStream, which sends an update first. Instances that start
// together (the all-in-one's functions all declare DEADLETTER) find the
// stream missing together: the server makes it once and answers the other
// identical creates with it, while their updates would each rewrite the
// stream just made, as its maker creates consumers on it. nats-server
// v2.15.3 races there under -race (fileStore.UpdateConfig in a stream
// update against fileStore.ConsumerStore in a consumer create).
func ensureStream(ctx context.Context, js jetstream.JetStream, cfg jetstream.StreamConfig) (jetstream.Stream, error) {
	st, err := js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = js.CreateStream(ctx, cfg)
		if !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			return st, err
		}
		// Made meanwhile, and not as cfg declares: compare, then update.
		st, err = retry.ExistingStream(ctx, js, cfg.Name, existingWait)
	}
	if err != nil {
		return nil, err
	}
	if sameStream(cfg, st.CachedInfo().Config) {
		return st, nil
	}
	return js.UpdateStream(ctx, cfg)
}

// ensureConsumer makes the durable consumer as cfg declares it, as
// ensureStream does a stream. A pause stays as it is either way: the
// server keeps it across an update without PauseUntil.
func ensureConsumer(ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	cons, err := readConsumer(ctx, js, stream, cfg)
	if err == nil || !errors.Is(err, jetstream.ErrConsumerNotFound) && !errors.Is(err, errConsumerDiffers) {
		return cons, err
	}
	return js.CreateOrUpdateConsumer(ctx, stream, cfg)
}

// readConsumer returns the durable consumer when it is as cfg declares,
// errConsumerDiffers when it is not; it writes nothing.
func readConsumer(ctx context.Context, js jetstream.JetStream, stream string, cfg jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	cons, err := js.Consumer(ctx, stream, cfg.Durable)
	if err != nil {
		return nil, err
	}
	if !sameConsumer(cfg, cons.CachedInfo().Config) {
		return nil, errConsumerDiffers
	}
	return cons, nil
}

var errConsumerDiffers = errors.New("consumer differs from its declaration")

// sameStream reports whether the server's config of a stream is what want
// declares, once want's zero values read as the server's defaults. When in
// doubt it says no, and the stream is updated as it always was.
func sameStream(want, have jetstream.StreamConfig) bool {
	unlimited := func(n *int64) {
		if *n == 0 {
			*n = -1
		}
	}
	unlimited(&want.MaxMsgs)
	unlimited(&want.MaxBytes)
	unlimited(&want.MaxMsgsPerSubject)
	if want.MaxConsumers == 0 {
		want.MaxConsumers = -1
	}
	if want.MaxMsgSize == 0 {
		want.MaxMsgSize = -1
	}
	if want.Replicas == 0 {
		want.Replicas = 1
	}
	if want.Duplicates == 0 {
		// The server's window: two minutes, or MaxAge when shorter.
		want.Duplicates = 2 * time.Minute
		if want.MaxAge > 0 && want.MaxAge < want.Duplicates {
			want.Duplicates = want.MaxAge
		}
	}
	want.Metadata, have.Metadata = userMetadata(want.Metadata), userMetadata(have.Metadata)
	return reflect.DeepEqual(want, have)
}

// sameConsumer is sameStream for a durable consumer.
func sameConsumer(want, have jetstream.ConsumerConfig) bool {
	if want.Name == "" {
		want.Name = want.Durable
	}
	if len(want.BackOff) > 0 {
		want.AckWait = want.BackOff[0] // the server's rule
	}
	if want.MaxWaiting == 0 {
		want.MaxWaiting = 512
	}
	want.Metadata, have.Metadata = userMetadata(want.Metadata), userMetadata(have.Metadata)
	want.PauseUntil, have.PauseUntil = nil, nil
	return reflect.DeepEqual(want, have)
}

// userMetadata drops the server's own keys (_nats.ver, _nats.level, ...)
// from metadata, and gives nil for none.
func userMetadata(md map[string]string) map[string]string {
	out := maps.Clone(md)
	maps.DeleteFunc(out, func(k, _ string) bool { return strings.HasPrefix(k, "_nats.") })
	if len(out) == 0 {
		return nil
	}
	return out
}
