package runtime

import (
	"context"
	"fmt"
	"regexp"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// instruments are the runtime's metrics, made once per process. Their
// Prometheus names, types and labels are listed in runtime/README.md.
type instruments struct {
	meter       metric.Meter
	handled     metric.Int64Counter
	errors      metric.Int64Counter
	duration    metric.Float64Histogram
	redelivered metric.Int64Counter
	settled     metric.Int64Counter
	deadLetters metric.Int64Counter
	inFlight    metric.Int64ObservableGauge
	pending     metric.Int64ObservableGauge
	ackPending  metric.Int64ObservableGauge
	connected   metric.Int64ObservableGauge
	reconnects  metric.Int64ObservableCounter
}

// durationBuckets suit handlers from sub-millisecond to the 10s timeout.
var durationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func newInstruments(m metric.Meter) (*instruments, error) {
	in := &instruments{meter: m}
	var errs [11]error
	in.handled, errs[0] = m.Int64Counter("natsfn.handled",
		metric.WithDescription("Messages handled (requests and events), by outcome ok or error."))
	in.errors, errs[1] = m.Int64Counter("natsfn.handler.errors",
		metric.WithDescription("Handler errors by micro error code (400, 404, 409, 413, 500, 503)."))
	in.duration, errs[2] = m.Float64Histogram("natsfn.handler.duration", metric.WithUnit("s"),
		metric.WithDescription("Time in the handler chain, by outcome."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	in.redelivered, errs[3] = m.Int64Counter("natsfn.event.redeliveries",
		metric.WithDescription("Event deliveries that were not the first."))
	in.settled, errs[4] = m.Int64Counter("natsfn.event.settled",
		metric.WithDescription("Events settled after their handler ran, by action ack, nak or term."))
	in.deadLetters, errs[5] = m.Int64Counter("natsfn.dead_letters",
		metric.WithDescription("Messages stored in the DEADLETTER stream."))
	in.inFlight, errs[6] = m.Int64ObservableGauge("natsfn.handler.in_flight",
		metric.WithDescription("Messages being handled now."))
	in.pending, errs[7] = m.Int64ObservableGauge("natsfn.consumer.pending",
		metric.WithDescription("Messages in the stream not yet delivered to the handler's consumer."))
	in.ackPending, errs[8] = m.Int64ObservableGauge("natsfn.consumer.ack_pending",
		metric.WithDescription("Messages delivered to the handler's consumer and not yet acked."))
	in.connected, errs[9] = m.Int64ObservableGauge("natsfn.nats.connected",
		metric.WithDescription("1 while the function's NATS connection is up, else 0."))
	in.reconnects, errs[10] = m.Int64ObservableCounter("natsfn.nats.reconnects",
		metric.WithDescription("Reconnections of the function's NATS connection."))
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	return in, nil
}

// Settle actions of an event.
const (
	settleAck = iota
	settleNak
	settleTerm
)

// handlerMetrics are one handler's instruments with their label sets made
// once, so that recording a message allocates nothing.
type handlerMetrics struct {
	in         *instruments
	ok, failed []metric.AddOption
	okDur      []metric.RecordOption
	failedDur  []metric.RecordOption
	byCode     map[int][]metric.AddOption
	settled    [3][]metric.AddOption
	plain      []metric.AddOption
	observe    []metric.ObserveOption
}

func (in *instruments) forHandler(service string, site handlerSite) *handlerMetrics {
	base := []attribute.KeyValue{
		attribute.String("function", service),
		attribute.String("handler", site.name),
		attribute.String("kind", site.kind.String()),
	}
	with := func(kv ...attribute.KeyValue) attribute.Set {
		return attribute.NewSet(append(append([]attribute.KeyValue(nil), base...), kv...)...)
	}
	hm := &handlerMetrics{in: in, byCode: map[int][]metric.AddOption{}}
	okSet, failedSet := with(attribute.String("outcome", "ok")), with(attribute.String("outcome", "error"))
	hm.ok = []metric.AddOption{metric.WithAttributeSet(okSet)}
	hm.failed = []metric.AddOption{metric.WithAttributeSet(failedSet)}
	hm.okDur = []metric.RecordOption{metric.WithAttributeSet(okSet)}
	hm.failedDur = []metric.RecordOption{metric.WithAttributeSet(failedSet)}
	for _, c := range codeOf {
		hm.byCode[c.code] = []metric.AddOption{metric.WithAttributeSet(with(attribute.String("code", strconv.Itoa(c.code))))}
	}
	for action, name := range []string{"ack", "nak", "term"} {
		hm.settled[action] = []metric.AddOption{metric.WithAttributeSet(with(attribute.String("action", name)))}
	}
	hm.plain = []metric.AddOption{metric.WithAttributeSet(with())}
	hm.observe = []metric.ObserveOption{metric.WithAttributeSet(with())}
	return hm
}

// settle counts how an event was settled; nil-safe when metrics are off.
func (hm *handlerMetrics) settle(action int) {
	if hm != nil {
		hm.in.settled.Add(context.Background(), 1, hm.settled[action]...)
	}
}

// redelivery counts a delivery that was not the first.
func (hm *handlerMetrics) redelivery() {
	if hm != nil {
		hm.in.redelivered.Add(context.Background(), 1, hm.plain...)
	}
}

// deadLetter counts a message stored in the DEADLETTER stream.
func (hm *handlerMetrics) deadLetter() {
	if hm != nil {
		hm.in.deadLetters.Add(context.Background(), 1, hm.plain...)
	}
}

// gauge is a value a function reports through Service.Gauge.
type gauge struct {
	name, description string
	read              func() int64
}

// instrumentNameRe is OpenTelemetry's rule for instrument names, but for
// their length (at most 255, validInstrumentName): written as {0,254} the
// regexp compiled into 254 copies at package init, 220 KB and about 1 ms
// of every process start.
var instrumentNameRe = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_./-]*$`)

// validInstrumentName reports whether OpenTelemetry accepts name.
func validInstrumentName(name string) bool {
	return len(name) <= 255 && instrumentNameRe.MatchString(name)
}

// Gauge reports a value the function owns as a metric, read at every
// scrape, with the label function=<service>. Declare it before Start, like
// Stream and OnStart. read must be quick and safe to call from any
// goroutine. The payments function reports its circuit breaker this way:
//
//	svc.Gauge("payments.breaker.state", "Gateway breaker: 0 closed, 1 half-open, 2 open.",
//		func() int64 { return int64(breaker.State()) })
//
// which /metrics shows as payments_breaker_state{function="payments"}.
// Deps.Meter gives the full OpenTelemetry API for anything richer.
func (s *Service) Gauge(name, description string, read func() int64) {
	s.gauges = append(s.gauges, gauge{name: name, description: description, read: read})
}

// registerMetrics reports the instance's gauges, consumer figures and
// connection state at every collection. The callback reads atomics only.
func (r *serviceRun) registerMetrics() error {
	in := r.metrics
	if in == nil {
		return nil
	}
	gauges := r.svc.gauges
	fnOpt := []metric.ObserveOption{metric.WithAttributeSet(attribute.NewSet(attribute.String("function", r.svc.cfg.Name)))}
	custom := make([]metric.Int64ObservableGauge, len(gauges))
	observables := []metric.Observable{in.inFlight, in.pending, in.ackPending, in.connected, in.reconnects}
	for i, g := range gauges {
		inst, err := in.meter.Int64ObservableGauge(g.name, metric.WithDescription(g.description))
		if err != nil {
			return fmt.Errorf("gauge %s: %w", g.name, err)
		}
		custom[i] = inst
		observables = append(observables, inst)
	}
	reg, err := in.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		for _, e := range r.endpoints {
			o.ObserveInt64(in.inFlight, e.stats.inFlight.Load(), e.metrics.observe...)
		}
		for _, e := range r.events {
			o.ObserveInt64(in.inFlight, e.stats.inFlight.Load(), e.metrics.observe...)
			o.ObserveInt64(in.pending, e.stats.numPending.Load(), e.metrics.observe...)
			o.ObserveInt64(in.ackPending, e.stats.ackPending.Load(), e.metrics.observe...)
		}
		up := int64(0)
		if r.nc.IsConnected() {
			up = 1
		}
		o.ObserveInt64(in.connected, up, fnOpt...)
		o.ObserveInt64(in.reconnects, int64(r.nc.Stats().Reconnects), fnOpt...)
		for i, g := range gauges {
			o.ObserveInt64(custom[i], g.read(), fnOpt...)
		}
		return nil
	}, observables...)
	if err != nil {
		return fmt.Errorf("metrics callback: %w", err)
	}
	r.metricsReg = reg
	return nil
}
