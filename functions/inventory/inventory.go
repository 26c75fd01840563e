package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	// Only for the stream declaration: runtime.Service.Stream takes a
	// jetstream.StreamConfig. State goes through runtime.Bucket.
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// Name is the function's micro service name.
const Name = "inventory"

// Version is the function's version, shown by `nats micro info`.
const Version = "1.0.0"

// Config configures the inventory function.
type Config struct {
	// Seed lists products created when the service starts, each only if it
	// does not exist yet (KV Create), so a restart never resets stock that
	// orders have taken. DemoCatalog is a ready-made seed.
	Seed []contracts.SetStockRequest

	// hooks inject faults in tests; the zero value does nothing.
	hooks hooks
}

// function is the inventory function: its config and its bucket.
type function struct {
	cfg    Config
	bucket *runtime.Bucket[entry]
	// logger is the last started instance's; the handlers log through
	// their context's logger fields.
	logger *slog.Logger
}

// New declares the inventory function. Run it with runtime.Run or
// runtime.Main; every instance shares the bucket and the consumers.
func New(cfg Config) *runtime.Service {
	f := &function{cfg: cfg, logger: slog.Default()}
	svc := runtime.NewService(runtime.ServiceConfig{
		Name:        Name,
		Version:     Version,
		Description: "natsfn inventory: stock and prices; reserves and releases the stock of orders",
	})
	svc.Stream(streamConfig(contracts.StreamInventory))
	f.bucket = runtime.NewBucket[entry](svc, runtime.BucketConfig{
		Name:        contracts.BucketStock,
		Description: "natsfn inventory: quantity and price per product, and what was reserved for each order",
	})
	svc.OnStart(f.start)

	runtime.Endpoint(svc, "stock.get", f.getStock, runtime.WithSchema(contracts.GetStockRequestV1),
		runtime.Description("read a product's available quantity and price"))
	runtime.Endpoint(svc, "stock.set", f.setStock, runtime.WithSchema(contracts.SetStockRequestV1),
		runtime.Description("set a product's available quantity and price"))

	runtime.OnEvent(svc, "reserve", contracts.OrderCreated, f.reserve,
		append(retrying("reserve every item of a new order, or reject it"),
			// Both majors of inventory.reserved: NATSFN_PHASES picks what goes out.
			runtime.Emits(contracts.InventoryReserved, contracts.InventoryReservedV2, contracts.InventoryRejected))...)
	runtime.OnEvent(svc, "release-on-payment-failed", contracts.PaymentFailed, f.releaseOnPaymentFailed,
		append(retrying("put back the stock of an order whose payment failed"), runtime.Emits(contracts.InventoryReleased),
			runtime.Accepts(contracts.PaymentFailedV2))...)
	runtime.OnEvent(svc, "release-on-cancel", contracts.OrderCancelled, f.releaseOnCancel,
		append(retrying("put back the stock of a cancelled order"), runtime.Emits(contracts.InventoryReleased))...)
	return svc
}

// retrying are the options of every inventory handler. A reservation is
// one transaction, so a transient failure is retried for a few minutes
// before the message is dead-lettered (and can be replayed).
func retrying(description string) []runtime.EventOption {
	return []runtime.EventOption{
		runtime.MaxDeliver(10),
		runtime.BackOff(250*time.Millisecond, time.Second, 5*time.Second, 15*time.Second, 30*time.Second),
		runtime.Description(description),
	}
}

// start applies the seed; the runtime has opened the bucket.
func (f *function) start(ctx context.Context, d runtime.Deps) error {
	f.logger = d.Logger
	return f.seed(ctx)
}

// seed creates the products of the seed catalog that do not exist yet.
func (f *function) seed(ctx context.Context) error {
	for _, p := range f.cfg.Seed {
		doc, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("seed %s: %w", p.ProductID, err)
		}
		if err := contracts.SetStockRequestV1.Validate(doc); err != nil {
			return fmt.Errorf("seed %s: %w", p.ProductID, err)
		}
		_, err = f.bucket.Create(ctx, p.ProductID, entry{Stock: &stock{Quantity: p.Quantity, PriceCents: p.PriceCents}})
		if err != nil && !errors.Is(err, runtime.ErrWriteConflict) {
			return fmt.Errorf("seed %s: %w", p.ProductID, err)
		}
	}
	return nil
}

// streamConfig is the stream a function declares, from its contract.
func streamConfig(name string) jetstream.StreamConfig {
	d, _ := contracts.LookupStream(name)
	return jetstream.StreamConfig{Name: d.Name, Subjects: d.Subjects, Description: d.Description,
		Duplicates: runtime.DefaultDuplicateWindow}
}
