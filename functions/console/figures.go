package console

import (
	"encoding/json"
	"time"

	"github.com/nats-io/nats.go/micro"
)

// tally is an endpoint's or event handler's counters, from micro stats.
// For a natsfn endpoint or handler they come from the stats data the
// runtime publishes (micro's own counters miss requests served by a worker
// pool); for any other micro endpoint, from micro's counters.
type tally struct {
	// Requests are requests answered, or events delivered to a handler.
	Requests int64 `json:"requests"`
	// Errors are requests answered with an error, or deliveries that
	// failed (nak'd or terminated).
	Errors       int64 `json:"errors"`
	InFlight     int64 `json:"in_flight"`
	Acked        int64 `json:"acked"`
	Naked        int64 `json:"naked"`
	Terminated   int64 `json:"terminated"`
	Redelivered  int64 `json:"redelivered"`
	DeadLettered int64 `json:"dead_lettered"`
	// Pending and AckPending are the consumer's: every instance reads the
	// same durable consumer, so they are not added up but the highest kept.
	Pending    int64 `json:"pending"`
	AckPending int64 `json:"ack_pending"`
	// ProcessingTime is the total time spent handling.
	ProcessingTime time.Duration `json:"processing_time_ns"`
	LastError      string        `json:"last_error,omitempty"`
}

// runtimeData is the union of the runtime's endpoint and event stats data
// (runtime.EndpointFigures and runtime.EventFigures), read by their JSON
// names only.
type runtimeData struct {
	Kind           string `json:"kind"`
	Requests       int64  `json:"requests"`
	Errors         int64  `json:"errors"`
	Delivered      int64  `json:"delivered"`
	Redelivered    int64  `json:"redelivered"`
	Acked          int64  `json:"acked"`
	Naked          int64  `json:"naked"`
	Terminated     int64  `json:"terminated"`
	DeadLettered   int64  `json:"dead_lettered"`
	InFlight       int64  `json:"in_flight"`
	Pending        int64  `json:"pending"`
	AckPending     int64  `json:"ack_pending"`
	ProcessingTime int64  `json:"processing_time_ns"`
	LastError      string `json:"last_error"`
}

func figuresOf(es *micro.EndpointStats) tally {
	var d runtimeData
	if len(es.Data) == 0 || json.Unmarshal(es.Data, &d) != nil || d.Kind == "" {
		return tally{
			Requests:       int64(es.NumRequests),
			Errors:         int64(es.NumErrors),
			ProcessingTime: es.ProcessingTime,
			LastError:      es.LastError,
		}
	}
	f := tally{
		Requests:       d.Requests,
		Errors:         d.Errors,
		InFlight:       d.InFlight,
		Acked:          d.Acked,
		Naked:          d.Naked,
		Terminated:     d.Terminated,
		Redelivered:    d.Redelivered,
		DeadLettered:   d.DeadLettered,
		Pending:        d.Pending,
		AckPending:     d.AckPending,
		ProcessingTime: time.Duration(d.ProcessingTime),
		LastError:      d.LastError,
	}
	if d.Kind == kindEvent {
		f.Requests = d.Delivered
		f.Errors = d.Naked + d.Terminated
	}
	return f
}

// add sums the figures of two instances of one endpoint.
func (f tally) add(g tally) tally {
	f.Requests += g.Requests
	f.Errors += g.Errors
	f.InFlight += g.InFlight
	f.Acked += g.Acked
	f.Naked += g.Naked
	f.Terminated += g.Terminated
	f.Redelivered += g.Redelivered
	f.DeadLettered += g.DeadLettered
	f.Pending = max(f.Pending, g.Pending)
	f.AckPending = max(f.AckPending, g.AckPending)
	f.ProcessingTime += g.ProcessingTime
	if g.LastError != "" {
		f.LastError = g.LastError
	}
	return f
}

// Average is the mean handling time.
func (f tally) Average() time.Duration {
	if f.Requests == 0 {
		return 0
	}
	return f.ProcessingTime / time.Duration(f.Requests)
}
