package inventory

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime"
)

// errLost means the reservation changed under the worker: another worker
// wrote it. The worker reloads it and goes on from what it finds.
var errLost = errors.New("reservation changed by another worker")

// maxReloads bounds how often one delivery reloads a reservation it lost.
const maxReloads = 20

// txn is one worker's view of one order's reservation: the record and the
// revision it was read at (0 when it does not exist yet).
type txn struct {
	f       *function
	orderID string
	owner   string
	r       *reservation
	rev     uint64
}

// open loads an order's reservation for a new worker.
func (f *function) open(ctx context.Context, orderID string) (*txn, error) {
	t := &txn{f: f, orderID: orderID, owner: uuid.NewString()}
	return t, t.reload(ctx)
}

// reload reads the reservation again. While another live worker holds it
// in progress, reload waits for that worker to finish or for its lease to
// expire (it crashed); if ctx ends first, the message is retried later.
func (t *txn) reload(ctx context.Context) error {
	wait := 10 * time.Millisecond
	for {
		e, err := t.f.res.Get(ctx, t.orderID)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			t.r, t.rev = nil, 0
			return nil
		}
		if err != nil {
			return runtime.Unavailable(err, "reservation %s could not be read", t.orderID)
		}
		r, err := decodeReservation(t.orderID, e.Value())
		if err != nil {
			return err
		}
		left := time.Until(r.LeaseUntil)
		if !r.State.inProgress() || r.Owner == "" || r.Owner == t.owner || left <= 0 {
			t.r, t.rev = r, e.Revision()
			return nil
		}
		select {
		case <-ctx.Done():
			return runtime.RetryAfter(left, fmt.Errorf("reservation %s is %s by another worker: %w", t.orderID, r.State, runtime.ErrUnavailable))
		case <-time.After(min(wait, left)):
		}
		wait = min(2*wait, 250*time.Millisecond)
	}
}

// save writes the reservation at the revision it was read, taking or
// renewing the lease while it is in progress and dropping it once stable.
// It returns errLost when another worker wrote first.
func (t *txn) save(ctx context.Context) error {
	now := time.Now()
	t.r.UpdatedAt = now
	if t.r.State.inProgress() {
		t.r.Owner, t.r.LeaseUntil = t.owner, now.Add(t.f.lease)
	} else {
		t.r.Owner, t.r.LeaseUntil = "", time.Time{}
	}
	data, err := jsonEncode(t.r)
	if err != nil {
		return err
	}
	var rev uint64
	if t.rev == 0 {
		rev, err = t.f.res.Create(ctx, t.orderID, data)
	} else {
		rev, err = t.f.res.Update(ctx, t.orderID, data, t.rev)
	}
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return errLost
	}
	if err != nil {
		return runtime.Unavailable(err, "reservation %s could not be written", t.orderID)
	}
	t.rev = rev
	return nil
}

// drive runs step until it returns something other than errLost,
// reloading the reservation after each loss.
func (t *txn) drive(ctx context.Context, step func(context.Context) error) error {
	for range maxReloads {
		err := step(ctx)
		if !errors.Is(err, errLost) {
			return err
		}
		if err := t.reload(ctx); err != nil {
			return err
		}
	}
	return runtime.RetryAfter(100*time.Millisecond, fmt.Errorf("reservation %s: too much contention: %w", t.orderID, runtime.ErrUnavailable))
}
