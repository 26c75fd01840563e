package kv_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/runtime/embedded"
	"github.com/natsfn/natsfn/runtime/internal/kv"
)

// Stock is a product's record in the example's bucket.
type Stock struct {
	Quantity int `json:"quantity"`
}

// Moves stock between two products in one transaction, then shows the
// sentinel of a lost race.
func Example() {
	dir, err := os.MkdirTemp("", "kv-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	srv, err := embedded.Start(embedded.Config{Port: -1, StoreDir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Stop()
	nc, err := nats.Connect(srv.ClientURL())
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	stock, err := kv.Open[Stock](ctx, js, kv.Config{Bucket: "stock"})
	if err != nil {
		log.Fatal(err)
	}
	_, _ = stock.Create(ctx, "sku-1", Stock{Quantity: 5})

	// Two units from sku-1 to sku-2 (which does not exist yet): both
	// writes land, or neither.
	err = stock.Transact(ctx, func(tx *kv.Tx[Stock]) error {
		if err := tx.Load(ctx, "sku-1", "sku-2"); err != nil {
			return err
		}
		from, _, err := tx.Get(ctx, "sku-1")
		if err != nil {
			return err
		}
		to, _, err := tx.Get(ctx, "sku-2")
		if err != nil {
			return err
		}
		if from.Quantity < 2 {
			return errors.New("not enough stock")
		}
		from.Quantity -= 2
		to.Quantity += 2
		return errors.Join(tx.Put("sku-1", from), tx.Put("sku-2", to))
	})
	if err != nil {
		log.Fatal(err)
	}
	a, _, _ := stock.Get(ctx, "sku-1")
	b, _, _ := stock.Get(ctx, "sku-2")
	fmt.Println(a.Quantity, b.Quantity)

	_, err = stock.Create(ctx, "sku-1", Stock{Quantity: 1})
	fmt.Println(errors.Is(err, kv.ErrConflict))
	// Output:
	// 3 2
	// true
}
