package payments

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	// The simulated gateway stands for a payment provider outside the
	// function, with its own store: it watches its settings (the runtime's
	// Bucket has no watch), and tests call it outside any handler, where a
	// runtime.Bucket cannot be used. So it keeps nats.go's KeyValue over
	// the gateway bucket, which the function declares (payments.go).
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/functions/internal/kvretry"
	"github.com/natsfn/natsfn/runtime"
)

// simulated is a payment gateway for demos and tests. Its settings come
// from the gateway bucket, watched so that every instance follows
// payments.gateway.set at once; its ledger is the bucket's charge.<order>
// keys.
type simulated struct {
	kv       jetstream.KeyValue
	settings atomic.Pointer[contracts.GatewayReply]
	// known is closed once the watch has applied the settings stored
	// when it began: a call waits for it, so that none follows the
	// defaults where an operator set other settings.
	known chan struct{}
}

// ledgerEntry is the gateway's answer for an order, kept forever: under
// charge.<order> the charge (charged, declined, or cancelled before it was
// made), under refund.<order> the refund of a charge.
type ledgerEntry struct {
	OrderID     string    `json:"order_id"`
	Status      string    `json:"status"` // "charged", "declined", "cancelled" or "refunded"
	PaymentID   string    `json:"payment_id,omitempty"`
	AmountCents int64     `json:"amount_cents"`
	At          time.Time `json:"at"`
}

const (
	statusCharged   = "charged"
	statusDeclined  = "declined"
	statusCancelled = "cancelled"
	statusRefunded  = "refunded"
	ledgerPrefix    = "charge."
	refundPrefix    = "refund."
)

// startSimulated binds the gateway bucket (the runtime created it before
// the OnStart hook that calls this) and starts following the settings,
// until ctx ends or the connection closes. Every write of the ledger is a
// span in the handler's trace, and every read and write rides out a KV
// leader election (kvretry).
//
// The watch is made after the start, not in it: its consumer is a write
// of the cluster's meta leader, 5.5-7.6 ms of payments' 50-70 ms start
// on a 3-node cluster (TestColdStart, a measurement build), where the
// bind is one read (about 1 ms). A gateway call waits for the settings
// the watch finds, so none is made with the defaults meanwhile.
func startSimulated(ctx context.Context, js jetstream.JetStream, logger *slog.Logger) (*simulated, error) {
	kv, err := bindGateway(ctx, js, bindGatewayWait)
	if err != nil {
		return nil, err
	}
	kv = runtime.TraceKV(kvretry.Wrap(kv))
	s := &simulated{kv: kv, known: make(chan struct{})}
	s.settings.Store(&defaultSettings)
	go s.follow(ctx, logger)
	return s, nil
}

// follow watches the settings until ctx ends or the watch does, making
// the watch again, after a pause, while it cannot be made.
func (s *simulated) follow(ctx context.Context, logger *slog.Logger) {
	for pause := 25 * time.Millisecond; ; pause = min(2*pause, 2*time.Second) {
		w, err := s.kv.Watch(ctx, settingsKey)
		if err == nil {
			s.applyAll(w.Updates(), logger)
			return
		}
		if ctx.Err() != nil {
			return
		}
		logger.Warn("cannot watch the gateway settings; trying again", "error", err, "in", pause)
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// applyAll applies a watch's entries until it ends. Its first nil entry
// marks the end of the settings stored when it began: known then.
func (s *simulated) applyAll(updates <-chan jetstream.KeyValueEntry, logger *slog.Logger) {
	initial := true
	for e := range updates {
		if e != nil {
			s.apply(e, logger)
		} else if initial {
			initial = false
			close(s.known)
		}
	}
}

// bindGatewayWait bounds how long bindGateway waits out "bucket not found".
const bindGatewayWait = 10 * time.Second

// bindGateway returns nats.go's handle of the gateway bucket, which the
// runtime opened before the OnStart hook that calls this. A cluster that
// boots with the functions can still answer "bucket not found" just after
// that: in a cluster only the meta leader answers a stream info with "not
// found", from its own view, and a meta leader elected a moment ago may not
// have applied the bucket's creation yet (TestStartTogether saw it once, in
// CI, 220 ms after the instance connected, and the instance exited). So a
// not-found is retried, for up to wait, before it is believed.
func bindGateway(ctx context.Context, js jetstream.JetStream, wait time.Duration) (jetstream.KeyValue, error) {
	deadline := time.Now().Add(wait)
	for pause := 25 * time.Millisecond; ; pause = min(2*pause, time.Second) {
		kv, err := js.KeyValue(ctx, BucketGateway)
		if err == nil {
			return kv, nil
		}
		left := time.Until(deadline)
		if !errors.Is(err, jetstream.ErrBucketNotFound) || left <= 0 {
			return nil, fmt.Errorf("bucket %s: %w", BucketGateway, err)
		}
		// The last ask is at the end of wait, not a pause before it.
		t := time.NewTimer(min(pause, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("bucket %s: %w", BucketGateway, err)
		case <-t.C:
		}
	}
}

func (s *simulated) apply(e jetstream.KeyValueEntry, logger *slog.Logger) {
	if e.Operation() != jetstream.KeyValuePut {
		s.settings.Store(&defaultSettings)
		return
	}
	v, err := decodeSettings(e.Value())
	if err != nil {
		logger.Warn("ignoring bad gateway settings", "error", err)
		return
	}
	s.settings.Store(&v)
}

// current returns the settings this instance follows.
func (s *simulated) current() contracts.GatewayReply { return *s.settings.Load() }

// call waits the configured latency, then fails in outage mode.
func (s *simulated) call(ctx context.Context) (contracts.GatewayReply, error) {
	select {
	case <-s.known:
	case <-ctx.Done():
		return defaultSettings, fmt.Errorf("simulated gateway: its settings were not read in time: %v: %w", ctx.Err(), ErrOutage)
	}
	st := s.current()
	if st.LatencyMS > 0 {
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(time.Duration(st.LatencyMS) * time.Millisecond):
		}
	}
	if st.Mode == contracts.GatewayOutage {
		return st, fmt.Errorf("simulated gateway is in outage mode: %w", ErrOutage)
	}
	return st, nil
}

// Charge answers as the settings say: outage fails every call, decline
// declines, ok charges and declines with probability failure_rate. The
// first answer for an order is created in the ledger, and every later
// call returns it.
func (s *simulated) Charge(ctx context.Context, orderID string, amountCents int64) (string, error) {
	st, err := s.call(ctx)
	if err != nil {
		return "", err
	}
	key := ledgerPrefix + orderID
	for {
		e, err := s.kv.Get(ctx, key)
		if err == nil {
			return answer(e.Value())
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) {
			return "", fmt.Errorf("simulated gateway ledger: %v: %w", err, ErrOutage)
		}
		entry := ledgerEntry{OrderID: orderID, Status: statusCharged, AmountCents: amountCents, At: time.Now().UTC()}
		if st.Mode == contracts.GatewayDecline || rand.Float64() < st.FailureRate {
			entry.Status = statusDeclined
		} else {
			entry.PaymentID = "pay-" + uuid.NewString()
		}
		data, _ := json.Marshal(entry) // plain values always encode
		_, err = s.kv.Create(ctx, key, data)
		if errors.Is(err, jetstream.ErrKeyExists) {
			// A concurrent call answered first: return its answer, once
			// the replica read shows it.
			if err := lagPause(ctx); err != nil {
				return "", fmt.Errorf("simulated gateway ledger: %v: %w", err, ErrOutage)
			}
			continue
		}
		if err != nil {
			return "", fmt.Errorf("simulated gateway ledger: %v: %w", err, ErrOutage)
		}
		return answer(data)
	}
}

// answer turns a ledger entry into Charge's result.
func answer(data []byte) (string, error) {
	e, err := decodeEntry(data)
	if err != nil {
		return "", err
	}
	switch e.Status {
	case statusDeclined:
		return "", fmt.Errorf("simulated gateway declined order %s: %w", e.OrderID, ErrDeclined)
	case statusCancelled:
		return "", fmt.Errorf("simulated gateway: the payment of order %s was cancelled: %w", e.OrderID, ErrCancelled)
	}
	return e.PaymentID, nil
}

func decodeEntry(data []byte) (ledgerEntry, error) {
	var e ledgerEntry
	if err := json.Unmarshal(data, &e); err != nil {
		return e, fmt.Errorf("simulated gateway ledger entry: %v: %w", err, ErrOutage)
	}
	return e, nil
}

// Cancel calls off an order's payment (latency and outage as for Charge;
// a decline mode does not decline it). With no charge in the ledger yet,
// it writes a cancelled one there, so that a Charge still on its way
// answers ErrCancelled; a charge made is refunded once, under
// refund.<order>. A declined or cancelled charge needs nothing.
func (s *simulated) Cancel(ctx context.Context, orderID string) (Cancellation, error) {
	if _, err := s.call(ctx); err != nil {
		return Cancellation{}, err
	}
	for {
		e, err := s.kv.Get(ctx, ledgerPrefix+orderID)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			data, _ := json.Marshal(ledgerEntry{OrderID: orderID, Status: statusCancelled, At: time.Now().UTC()})
			_, err = s.kv.Create(ctx, ledgerPrefix+orderID, data)
			if errors.Is(err, jetstream.ErrKeyExists) {
				// A charge landed first: refund it, once the replica
				// read shows it.
				if err := lagPause(ctx); err != nil {
					return Cancellation{}, fmt.Errorf("simulated gateway ledger: %v: %w", err, ErrOutage)
				}
				continue
			}
			if err != nil {
				return Cancellation{}, fmt.Errorf("simulated gateway ledger: %v: %w", err, ErrOutage)
			}
			return Cancellation{}, nil
		}
		if err != nil {
			return Cancellation{}, fmt.Errorf("simulated gateway ledger: %v: %w", err, ErrOutage)
		}
		charge, err := decodeEntry(e.Value())
		if err != nil || charge.Status != statusCharged {
			return Cancellation{}, err
		}
		refund := ledgerEntry{OrderID: orderID, Status: statusRefunded, PaymentID: charge.PaymentID,
			AmountCents: charge.AmountCents, At: time.Now().UTC()}
		data, _ := json.Marshal(refund)
		_, err = s.kv.Create(ctx, refundPrefix+orderID, data)
		if err != nil && !errors.Is(err, jetstream.ErrKeyExists) { // exists: refunded already
			return Cancellation{}, fmt.Errorf("simulated gateway ledger: %v: %w", err, ErrOutage)
		}
		return Cancellation{Refunded: true, PaymentID: charge.PaymentID, AmountCents: charge.AmountCents}, nil
	}
}

// lagPause waits a little before the ledger is read again after a Create
// found the key taken: a read served by a replica that lags behind the
// write may not show it yet, and reading again at once would spin.
func lagPause(ctx context.Context) error {
	t := time.NewTimer(5 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
