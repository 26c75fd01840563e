package console

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// function is one micro service: every instance that answers discovery
// under the same name.
type function struct {
	Name        string `json:"name"`
	Version     string `json:"version"`
	Description string `json:"description"`
	// Instances are the running instances, by id.
	Instances []instance `json:"instances"`
	// Endpoints are the endpoints and event handlers, with their figures
	// added up over the instances.
	Endpoints []endpoint `json:"endpoints"`
}

// instance is one running instance of a function.
type instance struct {
	ID       string            `json:"id"`
	Version  string            `json:"version"`
	Metadata map[string]string `json:"metadata,omitempty"`
	Started  time.Time         `json:"started"`
	// RTT is how long its PING reply took.
	RTT time.Duration `json:"rtt_ns"`
	// Problem says what the console could not read of it.
	Problem string `json:"problem,omitempty"`
}

// endpoint is a micro endpoint: a request endpoint, or an event handler
// (metadata kind=event), whose stats data carries its consumer's figures.
type endpoint struct {
	Name     string            `json:"name"`
	Subject  string            `json:"subject"`
	Kind     string            `json:"kind"`
	Metadata map[string]string `json:"metadata,omitempty"`
	Figures  tally             `json:"figures"`
}

// Trigger is the event subject an event handler consumes ("" for an
// endpoint).
func (e endpoint) Trigger() string {
	if e.Kind != kindEvent {
		return ""
	}
	return e.Metadata["trigger"]
}

const (
	kindEvent    = "event"
	kindEndpoint = "endpoint"
)

// discover asks every micro service for its INFO (and PING, for the round
// trip) until they stop answering, waiting for expect instances (how many
// answered the last time) up to knownWait, then for the STATS of as many
// as answered. It returns how many answered.
func discover(ctx context.Context, nc *nats.Conn, expect int) ([]function, int, []string, error) {
	var (
		infos, pings []answer
		infoErr      error
		wg           sync.WaitGroup
	)
	wg.Go(func() { infos, infoErr = gather(ctx, nc, "$SRV.INFO", 0, expect) })
	wg.Go(func() { pings, _ = gather(ctx, nc, "$SRV.PING", 0, expect) })
	wg.Wait()
	if errors.Is(infoErr, nats.ErrNoResponders) {
		return nil, 0, nil, nil // nothing runs
	}
	if infoErr != nil {
		return nil, 0, nil, fmt.Errorf("micro discovery: %w", infoErr)
	}
	var problems []string
	stats, err := gather(ctx, nc, "$SRV.STATS", len(infos), 0)
	if err != nil {
		problems = append(problems, "micro stats: "+err.Error())
	}
	byID := map[string]*micro.Stats{}
	for _, r := range stats {
		var s micro.Stats
		if err := json.Unmarshal(r.data, &s); err != nil {
			problems = append(problems, "a $SRV.STATS reply is not micro stats: "+err.Error())
			continue
		}
		byID[s.ID] = &s
	}
	rtt := map[string]time.Duration{}
	for _, r := range pings {
		var p micro.Ping
		if json.Unmarshal(r.data, &p) == nil {
			rtt[p.ID] = r.rtt
		}
	}
	fns := map[string]*function{}
	for _, r := range infos {
		var info micro.Info
		if err := json.Unmarshal(r.data, &info); err != nil {
			problems = append(problems, "a $SRV.INFO reply is not micro info: "+err.Error())
			continue
		}
		fn := fns[info.Name]
		if fn == nil {
			fn = &function{Name: info.Name, Version: info.Version, Description: info.Description}
			fns[info.Name] = fn
		}
		fn.addInstance(info, byID[info.ID], rtt[info.ID])
	}
	out := make([]function, 0, len(fns))
	for _, fn := range fns {
		slices.SortFunc(fn.Instances, func(a, b instance) int { return cmp.Compare(a.ID, b.ID) })
		out = append(out, *fn)
	}
	slices.SortFunc(out, func(a, b function) int { return cmp.Compare(a.Name, b.Name) })
	return out, len(infos), problems, nil
}

// addInstance merges one instance's INFO and STATS into the function.
func (fn *function) addInstance(info micro.Info, stats *micro.Stats, rtt time.Duration) {
	inst := instance{ID: info.ID, Version: info.Version, Metadata: info.Metadata, RTT: rtt}
	figures := map[string]tally{}
	if stats == nil {
		inst.Problem = "no stats reply"
	} else {
		inst.Started = stats.Started
		for _, es := range stats.Endpoints {
			figures[es.Name] = figuresOf(es)
		}
	}
	fn.Instances = append(fn.Instances, inst)
	for _, ei := range info.Endpoints {
		kind := ei.Metadata["kind"]
		if kind == "" {
			kind = kindEndpoint
		}
		i := slices.IndexFunc(fn.Endpoints, func(e endpoint) bool { return e.Name == ei.Name })
		if i < 0 {
			fn.Endpoints = append(fn.Endpoints, endpoint{Name: ei.Name, Subject: ei.Subject, Kind: kind, Metadata: ei.Metadata})
			i = len(fn.Endpoints) - 1
		}
		fn.Endpoints[i].Figures = fn.Endpoints[i].Figures.add(figures[ei.Name])
	}
}

// dlqSubjects returns the subjects of the function's dead-letter
// endpoints, as its INFO lists them ("" when it has none).
func (fn function) dlqSubjects() (list, replay string) {
	for _, e := range fn.Endpoints {
		switch e.Subject {
		case fn.Name + ".dlq.list":
			list = e.Subject
		case fn.Name + ".dlq.replay":
			replay = e.Subject
		}
	}
	return list, replay
}
