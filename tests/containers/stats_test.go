package containers

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/natsfn/natsfn/runtime"
)

// collect publishes an empty request on subject and gathers the replies
// until want arrived or within passed: micro's discovery subjects are
// answered by every instance.
func (f *flow) collect(subject string, want int, within time.Duration) ([]*nats.Msg, error) {
	inbox := f.nc.NewRespInbox()
	sub, err := f.nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer func() { _ = sub.Unsubscribe() }()
	if err := f.nc.PublishRequest(subject, inbox, nil); err != nil {
		return nil, err
	}
	var out []*nats.Msg
	deadline := time.Now().Add(within)
	for len(out) < want {
		m, err := sub.NextMsg(time.Until(deadline))
		if err != nil {
			break
		}
		out = append(out, m)
	}
	return out, nil
}

// instanceStats returns the micro stats of every instance of service that
// answers within 2s, by instance id (NATSFN_INSTANCE_ID).
func (f *flow) instanceStats(service string, want int) (map[string]micro.Stats, error) {
	msgs, err := f.collect(micro.APIPrefix+".STATS."+service, want, 2*time.Second)
	if err != nil {
		return nil, err
	}
	out := map[string]micro.Stats{}
	for _, m := range msgs {
		var st micro.Stats
		if err := json.Unmarshal(m.Data, &st); err != nil {
			return nil, fmt.Errorf("stats reply %q: %w", m.Data, err)
		}
		out[st.Metadata["instance"]] = st
	}
	return out, nil
}

// eventFigures decodes an event handler's figures from one instance's
// stats.
func eventFigures(st micro.Stats, handler string) (runtime.EventFigures, bool) {
	for _, e := range st.Endpoints {
		if e.Name != handler {
			continue
		}
		var fig runtime.EventFigures
		if err := json.Unmarshal(e.Data, &fig); err != nil || fig.Kind != "event" {
			return runtime.EventFigures{}, false
		}
		return fig, true
	}
	return runtime.EventFigures{}, false
}

// handlerTotals sums an event handler's figures over the instances of
// service that answer (want of them at most).
func (f *flow) handlerTotals(service, handler string, want int) (runtime.EventFigures, error) {
	stats, err := f.instanceStats(service, want)
	if err != nil {
		return runtime.EventFigures{}, err
	}
	var sum runtime.EventFigures
	for _, st := range stats {
		fig, ok := eventFigures(st, handler)
		if !ok {
			return sum, fmt.Errorf("%s %s: no event figures for %s", service, st.Metadata["instance"], handler)
		}
		sum.Delivered += fig.Delivered
		sum.Redelivered += fig.Redelivered
		sum.Acked += fig.Acked
		sum.Naked += fig.Naked
		sum.Terminated += fig.Terminated
		sum.DeadLettered += fig.DeadLettered
		sum.InFlight += fig.InFlight
	}
	return sum, nil
}
