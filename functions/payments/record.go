package payments

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// state is where an order's payment stands.
type state string

const (
	// stateCharging: the charge is under way (or was, before a crash).
	stateCharging state = "charging"
	// stateCompleted: charged. Final.
	stateCompleted state = "completed"
	// stateFailed: declined. Final.
	stateFailed state = "failed"
	// stateVoided: cancelled before the charge; it never happens. Final.
	stateVoided state = "voided"
	// stateCancelling: the order was cancelled while its charge was under
	// way or done; the gateway's Cancel (a refund, or a charge called off)
	// is under way.
	stateCancelling state = "cancelling"
	// stateRefunded: cancelled after the charge, and refunded. Final.
	stateRefunded state = "refunded"
)

// record is the value of an order in the payments bucket.
type record struct {
	OrderID     string                  `json:"order_id"`
	State       state                   `json:"state"`
	AmountCents int64                   `json:"amount_cents"`
	PaymentID   string                  `json:"payment_id,omitempty"`
	Reason      contracts.FailureReason `json:"reason,omitempty"`
	UpdatedAt   time.Time               `json:"updated_at"`
}

// errLost: another worker wrote the record first.
var errLost = errors.New("payment record changed by another worker")

// create writes a new record; errLost when the order has one already.
func (f *function) create(ctx context.Context, r *record) (uint64, error) {
	r.UpdatedAt = time.Now().UTC()
	rev, err := f.payments.Create(ctx, r.OrderID, *r)
	if errors.Is(err, runtime.ErrWriteConflict) {
		return 0, errLost
	}
	if err != nil {
		return 0, fmt.Errorf("write the payment of order %s: %w", r.OrderID, err)
	}
	return rev, nil
}

// update writes the record at the revision it was read and returns the
// new revision; errLost when another worker wrote it since.
func (f *function) update(ctx context.Context, r *record, rev uint64) (uint64, error) {
	r.UpdatedAt = time.Now().UTC()
	rev, err := f.payments.Update(ctx, r.OrderID, *r, rev)
	if errors.Is(err, runtime.ErrWriteConflict) {
		return 0, errLost
	}
	if err != nil {
		return 0, fmt.Errorf("write the payment of order %s: %w", r.OrderID, err)
	}
	return rev, nil
}

// load reads an order's record, or nil when it has none. "None" read on a
// replica is read again from the stream leader: a replica that lags
// behind the write of another delivery would have this one charge or
// void on a record it cannot see, and lose the race (errLost).
func (f *function) load(ctx context.Context, orderID string) (*record, uint64, error) {
	r, rev, err := f.payments.Get(ctx, orderID)
	if errors.Is(err, runtime.ErrNotFound) {
		r, rev, err = f.payments.GetLatest(ctx, orderID)
	}
	if errors.Is(err, runtime.ErrNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("read the payment of order %s: %w", orderID, err)
	}
	return &r, rev, nil
}
