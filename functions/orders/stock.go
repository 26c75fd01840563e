package orders

import (
	"context"
	"errors"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// product is what orders reads of a product in inventory's `stock`
// bucket: nothing but that it exists.
type product struct{}

// stock is inventory's `stock` bucket, read only. The runtime opens it on
// first use, so orders does not depend on inventory's start: the endpoints
// that do not need stock, and the projection, work before it.
var stock = runtime.ReadBucket[product](contracts.BucketStock)

// checkProducts reports the first item whose product inventory does not
// know (404), before anything is written for the order. The first read
// waits for inventory to create the bucket, up to StockWait (503 then).
func (o *orders) checkProducts(ctx context.Context, items []contracts.OrderItem) error {
	wait, cancel := context.WithTimeout(ctx, o.cfg.StockWait)
	defer cancel()
	seen := make(map[string]bool, len(items))
	for i, it := range items {
		if seen[it.ProductID] {
			continue
		}
		seen[it.ProductID] = true
		read := ctx
		if i == 0 {
			read = wait
		}
		_, _, err := stock.Get(read, it.ProductID)
		if errors.Is(err, runtime.ErrNotFound) {
			// A direct read may come from a replica that lags behind (a
			// node back from an outage); the leader has the last word
			// before a product is called unknown.
			_, _, err = stock.GetLatest(read, it.ProductID)
		}
		switch {
		case errors.Is(err, runtime.ErrNotFound):
			return runtime.Errorf(runtime.ErrNotFound, "unknown product %s", it.ProductID)
		case err != nil:
			return err
		}
	}
	return nil
}
