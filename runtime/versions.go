package runtime

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// An event changes in a breaking way as a new major on its own subject
// (contracts: inventory.reserved and inventory.reserved.v2, in one stream),
// and the functions move over without a synchronized redeploy:
//
//   - A producer declares every major it may publish (Emits) and emits the
//     one its code is written for. The operator's phase of the family
//     (NATSFN_PHASES) decides what goes out: v1, dual (both, in one atomic
//     batch, each copy naming its twins in HeaderTwins) or v2. The other
//     major is made by the contracts' converters.
//   - A consumer declares the other majors it reads (Accepts). Its consumer
//     filters every accepted subject, and an event of another major is
//     converted to the handler's own. Of a dual pair it handles the copy
//     in its own major and acks the other (twin).
//
// So the producers may go to dual before or after the consumers accept the
// new major, and to v2 once every consumer accepts it.

// versioned is a Topic that is one major of a family of events whose
// payloads convert between majors: contracts.Event.
type versioned interface {
	Topic
	// Name is the family, e.g. "inventory.reserved".
	Name() string
	// Major is the topic's major version.
	Major() int
	// URI names the exact version the program produces.
	URI() string
	// Convert turns a valid payload into one of another major.
	Convert(doc []byte, major int) ([]byte, error)
	// ValidateReceived validates a payload as its consumer reads it,
	// given the producer's ce-dataschema.
	ValidateReceived(dataschema string, doc []byte) error
}

// dataschemaOf is the ce-dataschema of t's events: the URI of the exact
// version, or the schema id for a topic that has no URI.
func dataschemaOf(t Topic) string {
	if u, ok := t.(interface{ URI() string }); ok {
		return u.URI()
	}
	return t.ID()
}

// HeaderTwins lists, comma-separated, the subjects of the other copies of
// an event published in several majors in one atomic batch (a producer at
// phase dual): the batch stored them all, so a consumer that reads several
// of them handles one and acks the others.
const HeaderTwins = "Natsfn-Twins"

// phase is the majors of a family a producer publishes, ascending.
type phase []int

// parsePhase reads a phase: v<N> publishes major N only, dual majors 1
// and 2, v<N>+v<M> both.
func parsePhase(s string) (phase, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "dual" {
		return phase{1, 2}, nil
	}
	var p phase
	for part := range strings.SplitSeq(s, "+") {
		n, ok := strings.CutPrefix(part, "v")
		m, err := strconv.Atoi(n)
		if !ok || err != nil || m < 1 || m > 99 || n != strconv.Itoa(m) || slices.Contains(p, m) {
			return nil, fmt.Errorf("%q is not v1, dual or v2 (v<N> publishes major N only, dual majors 1 and 2, v<N>+v<M> both)", s)
		}
		p = append(p, m)
	}
	slices.Sort(p)
	return p, nil
}

func (p phase) String() string {
	if slices.Equal(p, phase{1, 2}) {
		return "dual"
	}
	parts := make([]string, len(p))
	for i, m := range p {
		parts[i] = "v" + strconv.Itoa(m)
	}
	return strings.Join(parts, "+")
}

// validatePhases checks NATSFN_PHASES: a family name and a phase for each.
func validatePhases(phases map[string]string) error {
	for _, key := range slices.Sorted(maps.Keys(phases)) {
		name := strings.TrimSpace(key)
		if !tokenRe.MatchString(name) {
			return fmt.Errorf("%w: NATSFN_PHASES: %q is not an event family (such as inventory.reserved)", ErrConfigValidation, name)
		}
		if _, err := parsePhase(phases[key]); err != nil {
			return fmt.Errorf("%w: NATSFN_PHASES: %s=%s: %v", ErrConfigValidation, name, phases[key], err)
		}
	}
	return nil
}

// trimPhases returns phases with the spaces around names and phases
// taken out ("a=v1, b=dual" reads " b" otherwise).
func trimPhases(phases map[string]string) map[string]string {
	if phases == nil {
		return nil
	}
	out := make(map[string]string, len(phases))
	for k, v := range phases {
		out[strings.TrimSpace(k)] = strings.TrimSpace(v)
	}
	return out
}

// parsedPhases returns the phases of a validated Config, by family.
func (c Config) parsedPhases() map[string]phase {
	out := make(map[string]phase, len(c.Phases))
	for name, s := range c.Phases {
		if p, err := parsePhase(s); err == nil {
			out[strings.TrimSpace(name)] = p
		}
	}
	return out
}

// checkPhases reports a phase that a handler of s cannot follow: one that
// publishes a major the handler does not declare in Emits. A phase of a
// family s does not produce is no error (one NATSFN_PHASES may serve every
// function); phasesUnused lists them.
func (s *Service) checkPhases(phases map[string]phase) error {
	check := func(kind, name string, o handlerOptions) error {
		for _, t := range o.emitTopics {
			v, ok := t.(versioned)
			if !ok {
				continue
			}
			p, ok := phases[v.Name()]
			if !ok {
				continue
			}
			for _, m := range p {
				target, ok := majorOf(o.emitTopics, v.Name(), m)
				if !ok {
					return fmt.Errorf("%w: NATSFN_PHASES: %s=%s: %s %s of service %s does not declare major %d of %s in runtime.Emits",
						ErrConfigValidation, v.Name(), p, kind, name, s.cfg.Name, m, v.Name())
				}
				if target.Stream() != t.Stream() {
					return fmt.Errorf("%w: NATSFN_PHASES: %s=%s: %s is stored in %s and %s in %s; one atomic batch is one stream's",
						ErrConfigValidation, v.Name(), p, target.Subject(), target.Stream(), t.Subject(), t.Stream())
				}
			}
		}
		return nil
	}
	for _, e := range s.endpoints {
		if err := check("endpoint", e.name, e.opts.handlerOptions); err != nil {
			return err
		}
	}
	for _, h := range s.events {
		if err := check("event handler", h.name, h.opts.handlerOptions); err != nil {
			return err
		}
	}
	return nil
}

// produces reports whether a handler of s declares a major of family.
func (s *Service) produces(family string) bool {
	has := func(o handlerOptions) bool {
		return slices.ContainsFunc(o.emitTopics, func(t Topic) bool {
			v, ok := t.(versioned)
			return ok && v.Name() == family
		})
	}
	for _, e := range s.endpoints {
		if has(e.opts.handlerOptions) {
			return true
		}
	}
	for _, h := range s.events {
		if has(h.opts.handlerOptions) {
			return true
		}
	}
	return false
}

// majorOf finds major m of family among topics.
func majorOf(topics []Topic, family string, m int) (Topic, bool) {
	for _, t := range topics {
		if v, ok := t.(versioned); ok && v.Name() == family && v.Major() == m {
			return t, true
		}
	}
	return nil, false
}

// emitPlan is what a handler may emit and, for each declared subject
// whose family has a phase, the topics an emit on it publishes.
type emitPlan struct {
	// subjects are the declared subjects; nil when undeclared (any).
	subjects []string
	// routes maps an emitted subject to what is published; a subject
	// without a route is published as it is.
	routes map[string][]Topic
}

// planEmits routes a handler's declared emits by phases (checked by
// checkPhases).
func planEmits(o handlerOptions, phases map[string]phase) *emitPlan {
	p := &emitPlan{subjects: o.emits}
	for _, t := range o.emitTopics {
		v, ok := t.(versioned)
		if !ok {
			continue
		}
		ph, ok := phases[v.Name()]
		if !ok {
			continue
		}
		var to []Topic
		for _, m := range ph {
			if target, ok := majorOf(o.emitTopics, v.Name(), m); ok {
				to = append(to, target)
			}
		}
		if p.routes == nil {
			p.routes = map[string][]Topic{}
		}
		p.routes[t.Subject()] = to
	}
	return p
}

// route returns the topics an emit on t publishes.
func (p *emitPlan) route(t Topic) []Topic {
	if p != nil {
		if to, ok := p.routes[t.Subject()]; ok {
			return to
		}
	}
	return nil
}

// produced lists the schema ids a handler publishes under its plan, for
// its micro metadata: every declared topic's, or the phase's.
func (p *emitPlan) produced(o handlerOptions) []string {
	var ids []string
	for _, t := range o.emitTopics {
		to := p.route(t)
		if to == nil {
			to = []Topic{t}
		}
		for _, x := range to {
			if !slices.Contains(ids, x.ID()) {
				ids = append(ids, x.ID())
			}
		}
	}
	return ids
}

// phasesOf describes the phases a handler's emits follow, e.g.
// "inventory.reserved=dual", for its micro metadata.
func phasesOf(o handlerOptions, phases map[string]phase) string {
	var out []string
	for _, t := range o.emitTopics {
		v, ok := t.(versioned)
		if !ok {
			continue
		}
		if p, ok := phases[v.Name()]; ok {
			s := v.Name() + "=" + p.String()
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return strings.Join(out, ",")
}

// reader reads the events of one subject an event handler accepts: checks
// them as their producer sent them (contracts' ValidateReceived: strictly
// against a version it knows, leniently against a newer minor), then
// converts them to the handler's major. It is the Message's Schema.
type reader struct {
	src, target Topic
}

// ID is the id of the schema the event was published with.
func (r *reader) ID() string { return r.src.ID() }

// Validate checks doc as an event of src without its ce-dataschema.
func (r *reader) Validate(doc []byte) error {
	if v, ok := r.src.(versioned); ok {
		return v.ValidateReceived("", doc)
	}
	return r.src.Validate(doc)
}

// read checks m's payload and converts it to the handler's major.
func (r *reader) read(m *Message) error {
	v, ok := r.src.(versioned)
	if !ok {
		return r.src.Validate(m.Data)
	}
	if err := v.ValidateReceived(m.HeaderValue(headerCESchema), m.Data); err != nil {
		return err
	}
	if r.src.Subject() == r.target.Subject() {
		return nil
	}
	out, err := v.Convert(m.Data, r.target.(versioned).Major())
	if err != nil {
		return fmt.Errorf("%s read as %s: %w", r.src.ID(), r.target.ID(), err)
	}
	m.Data = out
	return nil
}

// messageReader is a Schema that reads a message rather than only
// validating its payload (reader).
type messageReader interface {
	read(m *Message) error
}

// readers builds an event handler's readers: its own topic's and those it
// Accepts, by subject, in order of preference.
func readersOf(t Topic, accepts []Topic) (map[string]*reader, []string) {
	rs := map[string]*reader{t.Subject(): {src: t, target: t}}
	order := []string{t.Subject()}
	for _, a := range accepts {
		if _, dup := rs[a.Subject()]; dup {
			continue
		}
		rs[a.Subject()] = &reader{src: a, target: t}
		order = append(order, a.Subject())
	}
	return rs, order
}

// checkAccepts reports an Accepts that is not another major of the
// handler's own event.
func checkAccepts(t Topic, accepts []Topic) error {
	if len(accepts) == 0 {
		return nil
	}
	own, ok := t.(versioned)
	if !ok {
		return fmt.Errorf("Accepts: %s has no majors to convert between", t.Subject())
	}
	for _, a := range accepts {
		v, ok := a.(versioned)
		if !ok || v.Name() != own.Name() {
			return fmt.Errorf("Accepts(%s): not a major of %s", a.Subject(), own.Name())
		}
		if a.Stream() != t.Stream() {
			return fmt.Errorf("Accepts(%s): stored in %s, not in %s with %s", a.Subject(), a.Stream(), t.Stream(), t.Subject())
		}
	}
	return nil
}

// twinOf reports whether msg, one copy of an event published in several
// majors at once, is to be acked without running the handler: when a
// copy the handler prefers (its own major first, then Accepts' order) is
// in the same batch.
func (e *eventRun) twinOf(subject, twins string) bool {
	if twins == "" || len(e.order) < 2 {
		return false
	}
	for _, s := range e.order {
		if s == subject {
			return false
		}
		for t := range strings.SplitSeq(twins, ",") {
			if t == s {
				return true
			}
		}
	}
	return false
}

// producesMetadata adds to a handler's micro metadata the schema ids it
// publishes under the phases ("produces") and the phases ("phases").
func (r *serviceRun) producesMetadata(md map[string]string, o handlerOptions, plan *emitPlan) {
	if ids := plan.produced(o); len(ids) > 0 {
		md["produces"] = strings.Join(ids, ",")
	}
	if p := phasesOf(o, r.phases); p != "" {
		md["phases"] = p
	}
}
