package orders

import (
	"context"
	"log/slog"
	"time"

	// The ORDERS stream's declaration is nats.go's own
	// jetstream.StreamConfig (Service.Stream takes one). State goes
	// through runtime.Bucket.
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// Version is the orders service's semantic version.
const Version = "1.0.0"

// svcName is the orders service's name, and the ce-source of its events.
const svcName = "orders"

// DefaultStockWait bounds how long orders.create waits for the `stock`
// bucket to appear before it answers 503.
const DefaultStockWait = 3 * time.Second

// Config tunes the orders function. The zero Config is ready to use.
type Config struct {
	// Now is the clock of the order timestamps and timeline; time.Now by
	// default. Tests set it to get predictable times.
	Now func() time.Time
	// StockWait bounds how long a create request waits for inventory's
	// `stock` bucket to exist (DefaultStockWait when 0). It is shorter than
	// a caller's usual request timeout, so the caller gets a clear 503
	// rather than a timeout while inventory is not up.
	StockWait time.Duration
}

// orders is the state the handlers share. The buckets are declared on the
// service, and the runtime opens them before any handler runs; inventory's
// stock bucket opens on first use. logger is set by OnStart.
type orders struct {
	cfg    Config
	logger *slog.Logger
	store  *store
	idem   *runtime.Bucket[claim]
}

// New declares the orders service: the create, get and cancel endpoints,
// the projection's event handlers, the ORDERS stream it publishes to, and
// the buckets it owns. Run it with runtime.Run or runtime.Main.
func New(cfg Config) *runtime.Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.StockWait <= 0 {
		cfg.StockWait = DefaultStockWait
	}
	o := &orders{cfg: cfg, logger: slog.Default()}
	svc := runtime.NewService(runtime.ServiceConfig{
		Name:        svcName,
		Version:     Version,
		Description: "Places, reads and cancels orders, and follows them through the order saga",
	})
	svc.Stream(ordersStream())
	views, idem := declareBuckets(svc)
	o.store, o.idem = &store{b: views}, idem
	svc.OnStart(o.start)

	// Every endpoint waits on KV or JetStream, so each runs a worker pool
	// rather than micro's one request at a time.
	pool := runtime.Concurrency(64)
	runtime.Endpoint(svc, "create", o.create, pool, runtime.Emits(contracts.OrderCreated),
		runtime.WithSchema(contracts.CreateOrderRequestV1),
		runtime.Description("Place an order; honours the Idempotency-Key header"))
	runtime.Endpoint(svc, "get", o.get, pool,
		runtime.WithSchema(contracts.GetOrderRequestV1),
		runtime.Description("Read an order: status, items, total, reason and timeline"))
	runtime.Endpoint(svc, "cancel", o.cancel, pool, runtime.Emits(contracts.OrderCancelled),
		runtime.WithSchema(contracts.CancelOrderRequestV1),
		runtime.Description("Cancel an order that is not paid yet"))
	o.project(svc)
	return svc
}

// start keeps the instance's logger. The stock bucket belongs to
// inventory and is opened on first use, so that orders starts whatever the
// order in which the functions come up.
func (o *orders) start(_ context.Context, d runtime.Deps) error {
	o.logger = d.Logger
	return nil
}

// now is the function's clock, in UTC so every stored time reads the same.
func (o *orders) now() time.Time { return o.cfg.Now().UTC() }

// ordersStream is the ORDERS stream as contracts defines it, with the
// operational settings the conventions fix. Replicas stay 0: the runtime
// fills in NATSFN_REPLICAS.
func ordersStream() jetstream.StreamConfig {
	d, _ := contracts.LookupStream(contracts.StreamOrders)
	return jetstream.StreamConfig{Name: d.Name, Subjects: d.Subjects, Description: d.Description,
		Duplicates: runtime.DefaultDuplicateWindow}
}
