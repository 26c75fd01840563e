package console

import (
	"cmp"
	"slices"
	"strings"

	"github.com/natsfn/natsfn/contracts"
)

// EmitsKey is the endpoint metadata key the console reads for the events a
// handler emits: subjects, comma-separated, e.g.
// "emits": "inventory.reserved,inventory.rejected". The runtime does not
// publish it yet; until it does, the console derives a function's
// emissions from what it saw the function publish and from the stream
// named after the function.
const EmitsKey = "emits"

// How the console knows an edge of the topology.
const (
	// fromMetadata: the handler's micro endpoint metadata says so
	// (trigger for a consumer, EmitsKey for an emitter).
	fromMetadata = "metadata"
	// fromObserved: the console saw the function publish the subject (the
	// event's ce-source header) since it started.
	fromObserved = "observed"
	// fromStream: the subject is stored by the stream the function owns,
	// the one named after it (ORDERS for orders).
	fromStream = "stream"
)

// edge is one arrow of the topology: a function emits or consumes an event.
type edge struct {
	Function string `json:"function"`
	// Handler is the consuming event handler, or the emitting endpoint or
	// handler when the metadata names it.
	Handler string `json:"handler,omitempty"`
	Subject string `json:"subject"`
	// Emits is true for function → event, false for event → handler.
	Emits bool `json:"emits"`
	// From says how the console knows it: fromMetadata, fromObserved or
	// fromStream.
	From string `json:"from"`
}

// topology is which function emits and consumes which event.
type topology struct {
	// Subjects are the events in the topology, in the saga's order.
	Subjects []string `json:"subjects"`
	Edges    []edge   `json:"edges"`
}

// buildTopology draws the topology from the functions' metadata. A
// function's emissions are its handlers' EmitsKey when any handler has
// one; otherwise what the console saw it publish, and the subjects of the
// stream named after it (found in its consumers' stream metadata and in
// contracts).
func buildTopology(fns []function, observed map[string][]string) topology {
	var t topology
	streamSubjects := map[string][]string{}
	for _, d := range contracts.Streams() {
		streamSubjects[d.Name] = append(streamSubjects[d.Name], d.Subjects...)
	}
	declared := map[string]bool{}
	for _, fn := range fns {
		for _, e := range fn.Endpoints {
			if trigger := e.Trigger(); trigger != "" {
				t.add(edge{Function: fn.Name, Handler: e.Name, Subject: trigger, From: fromMetadata})
				if s := e.Metadata["stream"]; s != "" && !slices.Contains(streamSubjects[s], trigger) {
					streamSubjects[s] = append(streamSubjects[s], trigger)
				}
			}
			for subject := range strings.SplitSeq(e.Metadata[EmitsKey], ",") {
				if subject = strings.TrimSpace(subject); subject != "" {
					declared[fn.Name] = true
					t.add(edge{Function: fn.Name, Handler: e.Name, Subject: subject, Emits: true, From: fromMetadata})
				}
			}
		}
	}
	for _, fn := range fns {
		if declared[fn.Name] {
			continue
		}
		for subject, sources := range observed {
			if slices.Contains(sources, fn.Name) {
				t.add(edge{Function: fn.Name, Subject: subject, Emits: true, From: fromObserved})
			}
		}
		for _, subject := range streamSubjects[strings.ToUpper(fn.Name)] {
			t.add(edge{Function: fn.Name, Subject: subject, Emits: true, From: fromStream})
		}
	}
	t.sort()
	return t
}

// add keeps an edge unless the same arrow is known already, from a
// source at least as good (metadata, then observed, then stream). Derived
// emissions name no handler, so they merge with one another only.
func (t *topology) add(e edge) {
	rank := map[string]int{fromMetadata: 0, fromObserved: 1, fromStream: 2}
	for i, o := range t.Edges {
		if o.Function == e.Function && o.Subject == e.Subject && o.Emits == e.Emits && o.Handler == e.Handler {
			if rank[e.From] < rank[o.From] {
				t.Edges[i] = e
			}
			return
		}
	}
	t.Edges = append(t.Edges, e)
	if !slices.Contains(t.Subjects, e.Subject) {
		t.Subjects = append(t.Subjects, e.Subject)
	}
}

// sort puts the subjects in the saga's order (contracts.Events), unknown
// ones after, by name, and the edges by subject, emitters first.
func (t *topology) sort() {
	order := map[string]int{}
	for i, s := range eventSubjects() {
		order[s] = i
	}
	pos := func(s string) int {
		if i, ok := order[s]; ok {
			return i
		}
		return len(order)
	}
	slices.SortFunc(t.Subjects, func(a, b string) int {
		return cmp.Or(cmp.Compare(pos(a), pos(b)), cmp.Compare(a, b))
	})
	slices.SortStableFunc(t.Edges, func(a, b edge) int {
		consumes := func(e edge) int {
			if e.Emits {
				return 0
			}
			return 1
		}
		return cmp.Or(cmp.Compare(pos(a.Subject), pos(b.Subject)), cmp.Compare(a.Subject, b.Subject),
			cmp.Compare(consumes(a), consumes(b)), cmp.Compare(a.Function, b.Function), cmp.Compare(a.Handler, b.Handler))
	})
}

// Emitters returns the functions that emit subject.
func (t topology) Emitters(subject string) []edge {
	var out []edge
	for _, e := range t.Edges {
		if e.Emits && e.Subject == subject {
			out = append(out, e)
		}
	}
	return out
}

// Consumers returns the handlers that consume subject.
func (t topology) Consumers(subject string) []edge {
	var out []edge
	for _, e := range t.Edges {
		if !e.Emits && e.Subject == subject {
			out = append(out, e)
		}
	}
	return out
}
