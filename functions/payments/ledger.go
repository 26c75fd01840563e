package payments

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	// The ledger's counts read every revision the bucket keeps, through
	// a nats.go KeyValue watch with history: the runtime's Bucket reads a
	// key's last value only. Tests and operators call these, not handlers.
	"github.com/nats-io/nats.go/jetstream"
)

// Charges reads the simulated gateway's ledger and returns how many times
// each order was charged (declines do not count). Every revision the
// bucket keeps counts, so a ledger entry written twice would show as 2;
// tests and operators use it to check that no order is charged twice.
func Charges(ctx context.Context, js jetstream.JetStream) (map[string]int, error) {
	return countLedger(ctx, js, ledgerPrefix, statusCharged)
}

// Refunds reads the simulated gateway's ledger and returns how many times
// each order was refunded, every revision counted as in Charges.
func Refunds(ctx context.Context, js jetstream.JetStream) (map[string]int, error) {
	return countLedger(ctx, js, refundPrefix, statusRefunded)
}

// countLedger counts the entries under prefix with the given status, by
// order, over every revision the bucket keeps.
func countLedger(ctx context.Context, js jetstream.JetStream, prefix, status string) (map[string]int, error) {
	kv, err := js.KeyValue(ctx, BucketGateway)
	if err != nil {
		return nil, fmt.Errorf("bucket %s: %w", BucketGateway, err)
	}
	w, err := kv.Watch(ctx, prefix+">", jetstream.IncludeHistory(), jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("read ledger: %w", err)
	}
	defer func() { _ = w.Stop() }()
	counts := map[string]int{}
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("read ledger: %w", ctx.Err())
		case e, ok := <-w.Updates():
			if !ok || e == nil {
				return counts, nil
			}
			var entry ledgerEntry
			if err := json.Unmarshal(e.Value(), &entry); err != nil {
				return nil, fmt.Errorf("ledger entry %s: %w", e.Key(), err)
			}
			if entry.Status == status {
				counts[strings.TrimPrefix(e.Key(), prefix)]++
			}
		}
	}
}
