package orders

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/natsfn/natsfn/runtime"
)

// claim is the value of the `idempotency` bucket: which request a key was
// first used with, and the order it stands for.
type claim struct {
	RequestHash string `json:"request_hash"`
	OrderID     string `json:"order_id"`
}

// claimAttempts bounds the claim loop, which only repeats when a claim
// expires between our Create and our Get.
const claimAttempts = 3

// sha256Hex is the hex sha256 of b.
func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// claimKey binds an Idempotency-Key to this request and returns the order
// id it stands for: newID when this request is the first with the key, the
// id claimed first when the same body came before (a retry, or a
// concurrent duplicate), and a 409 when the key came with another body.
//
// The key is hashed, so any header value is a valid KV key. The body is
// compared byte for byte, as the conventions agree: a client that retries
// sends the same bytes.
func (o *orders) claimKey(ctx context.Context, key string, body []byte, newID string) (string, error) {
	bucketKey := sha256Hex([]byte(key))
	want := claim{RequestHash: sha256Hex(body), OrderID: newID}
	for range claimAttempts {
		_, err := o.idem.Create(ctx, bucketKey, want)
		if err == nil {
			return newID, nil
		}
		if !errors.Is(err, runtime.ErrWriteConflict) {
			return "", fmt.Errorf("claim the Idempotency-Key: %w", err)
		}
		// Read the claim that came first from the leader: a replica may
		// not hold it yet.
		got, _, err := o.idem.GetLatest(ctx, bucketKey)
		if errors.Is(err, runtime.ErrNotFound) {
			continue // the claim expired in between: claim it afresh
		}
		if err != nil {
			return "", fmt.Errorf("read the Idempotency-Key claim: %w", err)
		}
		if got.RequestHash != want.RequestHash {
			return "", runtime.Errorf(runtime.ErrConflict, "Idempotency-Key was used with a different request body")
		}
		return got.OrderID, nil
	}
	return "", fmt.Errorf("claim Idempotency-Key: claim keeps vanishing: %w", runtime.ErrUnavailable)
}
