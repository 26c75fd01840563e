package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime"
)

// stockRecord is the value of a product in the stock bucket.
type stockRecord struct {
	// Quantity is what is available, reservations deducted.
	Quantity int `json:"quantity"`
	// PriceCents is the unit price in cents.
	PriceCents int64 `json:"price_cents"`
	// Op names the write that produced this revision: "seed", "set",
	// "take:<order>:<line>", "return:<order>:<line>" or "fence:<op>".
	Op string `json:"op,omitempty"`
}

func (r stockRecord) encode() []byte {
	b, _ := json.Marshal(r) // a struct of ints and a string always encodes
	return b
}

func decodeStock(product string, data []byte) (stockRecord, error) {
	var r stockRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return r, runtime.Permanent(fmt.Errorf("stock of %s is not a stock record: %v: %w", product, err, runtime.ErrInternal))
	}
	return r, nil
}

// readStock returns a product's record and its revision, or an error
// wrapping runtime.ErrNotFound.
func (f *function) readStock(ctx context.Context, product string) (stockRecord, uint64, error) {
	e, err := f.stock.Get(ctx, product)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return stockRecord{}, 0, runtime.Errorf(runtime.ErrNotFound, "unknown product %s", product)
	}
	if err != nil {
		return stockRecord{}, 0, runtime.Unavailable(err, "stock of %s could not be read", product)
	}
	rec, err := decodeStock(product, e.Value())
	return rec, e.Revision(), err
}

// upsert sets a product's quantity and price whatever they were. It is a
// CAS like every stock write, so that a reservation that announced a
// write at the revision it replaces sees its write fail.
func (f *function) upsert(ctx context.Context, product string, rec stockRecord) error {
	for {
		_, rev, err := f.readStock(ctx, product)
		switch {
		case errors.Is(err, runtime.ErrNotFound):
			_, err = f.stock.Create(ctx, product, rec.encode())
		case err != nil:
			return err
		default:
			_, err = f.stock.Update(ctx, product, rec.encode(), rev)
		}
		if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			continue // another write came first: read again
		}
		if err != nil {
			return runtime.Unavailable(err, "stock of %s could not be written", product)
		}
		return nil
	}
}
