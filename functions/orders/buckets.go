package orders

import (
	"time"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// IdempotencyTTL is how long an Idempotency-Key is remembered. A retry
// after that places a new order, as with most payment APIs.
const IdempotencyTTL = 24 * time.Hour

// declareBuckets declares the buckets the function owns: the runtime
// creates them (or brings them in line) when an instance starts.
func declareBuckets(svc *runtime.Service) (*runtime.Bucket[contracts.OrderView], *runtime.Bucket[claim]) {
	orders := runtime.NewBucket[contracts.OrderView](svc, runtime.BucketConfig{
		Name:        contracts.BucketOrders,
		Description: "natsfn order views, keyed by order id",
	})
	idem := runtime.NewBucket[claim](svc, runtime.BucketConfig{
		Name:        contracts.BucketIdempotency,
		Description: "natsfn orders.create Idempotency-Key claims, keyed by sha256 of the key",
		TTL:         IdempotencyTTL,
	})
	return orders, idem
}
