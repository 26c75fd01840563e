package runtime

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
)

// schemasEndpoint is the name of the runtime's endpoint that answers, on
// <service>.schemas, the JSON Schemas the function consumes and produces:
// so a tool (or `nats req payments.schemas ”`) finds every contract of a
// running function without its source. micro's own schema discovery was
// removed (nats.go#1270, #1741).
const schemasEndpoint = "schemas"

// Schemas is the answer of a function's schemas endpoint.
type Schemas struct {
	Service string `json:"service"`
	// Consumes lists, per event handler, every major it reads: its own
	// first, then those it Accepts.
	Consumes []SchemaUse `json:"consumes"`
	// Produces lists, per handler, every major it declares it emits;
	// Published says whether the current phases publish it.
	Produces []SchemaUse `json:"produces"`
	// Requests lists the endpoints' request schemas.
	Requests []SchemaUse `json:"requests"`
}

// SchemaUse is one schema as one handler uses it.
type SchemaUse struct {
	Handler string `json:"handler"`
	// Subject is the event's subject, or the endpoint's.
	Subject string `json:"subject"`
	// ID is the schema's id (its major), URI its exact version's when
	// it has one.
	ID  string `json:"id"`
	URI string `json:"uri,omitempty"`
	// Published is set on a produced major the phases publish.
	Published bool `json:"published,omitempty"`
	// Schema is the JSON Schema document, when the schema has one.
	Schema json.RawMessage `json:"schema,omitempty"`
}

// schemaUse describes s as handler uses it on subject.
func schemaUse(handler, subject string, s Schema) SchemaUse {
	u := SchemaUse{Handler: handler, Subject: subject, ID: s.ID()}
	if x, ok := s.(interface{ URI() string }); ok {
		u.URI = x.URI()
	}
	if x, ok := s.(interface{ Document() []byte }); ok {
		if doc := x.Document(); json.Valid(doc) {
			u.Schema = doc
		}
	}
	return u
}

// schemas lists the schemas of the running service.
func (r *serviceRun) schemas() Schemas {
	out := Schemas{Service: r.svc.cfg.Name, Consumes: []SchemaUse{}, Produces: []SchemaUse{}, Requests: []SchemaUse{}}
	produces := func(handler string, o handlerOptions, plan *emitPlan) {
		published := plan.produced(o)
		for _, t := range o.emitTopics {
			u := schemaUse(handler, t.Subject(), t)
			u.Published = slices.Contains(published, t.ID())
			out.Produces = append(out.Produces, u)
		}
	}
	for _, e := range r.endpoints {
		if e.opts.schema != nil {
			out.Requests = append(out.Requests, schemaUse(e.name, e.subject, e.opts.schema))
		}
		produces(e.name, e.opts.handlerOptions, e.plan)
	}
	for _, e := range r.events {
		for _, s := range e.order {
			out.Consumes = append(out.Consumes, schemaUse(e.name, s, e.readers[s].src))
		}
		produces(e.name, e.opts.handlerOptions, e.plan)
	}
	return out
}

// schemasEndpointOf is the runtime's schemas endpoint of a running
// service (r nil: as Describe lists it). Its answer is made at the first
// request, once every handler of the instance is built.
func (r *serviceRun) schemasEndpointOf() *endpoint {
	answer := sync.OnceValue(func() json.RawMessage {
		b, _ := json.Marshal(r.schemas())
		return b
	})
	return &endpoint{
		name: schemasEndpoint,
		opts: newEndpointOptions([]EndpointOption{Description("the JSON Schemas this function consumes and produces")}),
		core: typed(func(context.Context, struct{}) (json.RawMessage, error) { return answer(), nil }),
	}
}
