package contracts_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/natsfn/natsfn/contracts"
)

// Validate is shared by every handler goroutine; run with -race.
func TestValidateConcurrently(t *testing.T) {
	good := []byte(validCreate)
	bad := []byte(`{"customer_id":"c","items":[{"product_id":"p","quantity":0}]}`)
	const workers, rounds = 8, 200
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				if err := contracts.CreateOrderRequestV1.Validate(good); err != nil {
					errs <- err
					return
				}
				if err := contracts.CreateOrderRequestV1.Validate(bad); !errors.Is(err, contracts.ErrInvalid) {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent validate: %v", err)
	}
}
