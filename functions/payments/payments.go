package payments

import (
	"context"
	"log/slog"
	"time"

	// The PAYMENTS stream's declaration is nats.go's own
	// jetstream.StreamConfig (Service.Stream takes one). The function's
	// state goes through runtime.Bucket (the simulated gateway's ledger
	// does not: see simulated.go).
	"github.com/nats-io/nats.go/jetstream"

	"github.com/natsfn/natsfn/contracts"
	"github.com/natsfn/natsfn/runtime"
)

// Name is the function's micro service name.
const Name = "payments"

// Version is the function's version, shown by `nats micro info`.
const Version = "1.0.0"

// BucketGateway is the simulated gateway's bucket: its settings and its
// ledger of charges.
const BucketGateway = "gateway"

// Config configures the payments function. The zero value is ready to use.
type Config struct {
	// Gateway charges the orders; nil means the simulated gateway, steered
	// by payments.gateway.set.
	Gateway Gateway
	// Breaker tunes the circuit breaker around the gateway.
	Breaker BreakerConfig
	// UnknownOrderWait bounds how long a charge waits for the orders
	// function to know its order (DefaultUnknownOrderWait when 0). Past
	// it, the order is declined without a charge (payments.failed), so
	// inventory gives its stock back.
	UnknownOrderWait time.Duration

	// hooks inject faults in tests; the zero value does nothing.
	hooks hooks
}

// function is one payments instance.
type function struct {
	cfg      Config
	payments *runtime.Bucket[record]
	// settings is the simulated gateway's settings, under settingsKey in
	// the gateway bucket.
	settings *runtime.Bucket[contracts.GatewayReply]
	sim      *simulated // nil when Config.Gateway is set
	breaker  *breaker
	meters   *meters
	logger   *slog.Logger
}

// New declares the payments function. Run it with runtime.Run or
// runtime.Main; every instance shares the buckets and the consumers.
func New(cfg Config) *runtime.Service {
	_, svc := newFunction(cfg)
	return svc
}

func newFunction(cfg Config) (*function, *runtime.Service) {
	if cfg.UnknownOrderWait <= 0 {
		cfg.UnknownOrderWait = DefaultUnknownOrderWait
	}
	f := &function{cfg: cfg}
	svc := runtime.NewService(runtime.ServiceConfig{
		Name:        Name,
		Version:     Version,
		Description: "natsfn payments: charges reserved orders through a payment gateway behind a circuit breaker",
	})
	svc.Stream(streamConfig(contracts.StreamPayments))
	f.payments = runtime.NewBucket[record](svc, runtime.BucketConfig{
		Name:        contracts.BucketPayments,
		Description: "natsfn payments: the payment of each order",
		History:     5,
	})
	f.settings = runtime.NewBucket[contracts.GatewayReply](svc, runtime.BucketConfig{
		Name:        BucketGateway,
		Description: "natsfn payments: the simulated gateway's settings and ledger",
		History:     5,
	})
	svc.OnStart(f.start)
	svc.Gauge("payments.breaker.state", "Payment gateway circuit breaker: 0 closed, 1 half-open, 2 open.", f.breakerState)

	runtime.Endpoint(svc, "gateway.get", f.getGateway, runtime.WithSchema(contracts.GetGatewayRequestV1),
		runtime.Description("read the simulated gateway's settings"))
	runtime.Endpoint(svc, "gateway.set", f.setGateway, runtime.WithSchema(contracts.SetGatewayRequestV1),
		runtime.Description("steer the simulated gateway: mode ok|decline|outage, failure_rate, latency_ms"))

	// MaxDeliver(-1): an outage must delay an order, never dead-letter it,
	// however long it lasts; a permanent error is still dead-lettered at
	// once. The timeout leaves room for a gateway latency of up to 10s.
	runtime.OnEvent(svc, "charge", contracts.InventoryReserved, f.charge,
		runtime.MaxDeliver(-1), runtime.WithTimeout(20*time.Second), runtime.Overflow(), // a standby charges only a backlog (NATSFN_MIN_PENDING)
		// Either major of inventory.reserved, and both majors of what it
		// emits: NATSFN_PHASES picks what goes out.
		runtime.Accepts(contracts.InventoryReservedV2),
		runtime.Emits(contracts.PaymentCompleted, contracts.PaymentCompletedV2, contracts.PaymentFailed, contracts.PaymentFailedV2),
		runtime.Description("charge a reserved order"))
	// void calls the gateway too (Cancel), so it waits out an outage the
	// same way.
	runtime.OnEvent(svc, "void", contracts.OrderCancelled, f.void,
		runtime.MaxDeliver(-1), runtime.WithTimeout(20*time.Second),
		runtime.BackOff(250*time.Millisecond, time.Second, 5*time.Second, 30*time.Second),
		runtime.Emits(contracts.PaymentRefunded, contracts.PaymentRefundedV2),
		runtime.Description("call off the payment of a cancelled order: void it, or refund a charge made"))
	return f, svc
}

// start opens the gateway. The runtime has opened the buckets, declared
// before it.
func (f *function) start(ctx context.Context, d runtime.Deps) error {
	f.logger = d.Logger
	var err error
	if f.meters, err = newMeters(d.Meter); err != nil {
		return err
	}
	gw := f.cfg.Gateway
	if gw == nil {
		// The watch lives as long as the service's run context.
		if f.sim, err = startSimulated(ctx, d.JetStream, d.Logger); err != nil {
			return err
		}
		gw = f.sim
	}
	f.breaker = newBreaker(f.cfg.Breaker, gw, d.Logger, f.meters)
	return nil
}

// streamConfig is the stream a function declares, from its contract.
func streamConfig(name string) jetstream.StreamConfig {
	d, _ := contracts.LookupStream(name)
	return jetstream.StreamConfig{Name: d.Name, Subjects: d.Subjects, Description: d.Description,
		Duplicates: runtime.DefaultDuplicateWindow}
}
