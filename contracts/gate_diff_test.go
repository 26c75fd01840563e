package contracts

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
)

// constraints returns a schema without its annotations: what the gate
// compares, and what testdata/released.json keeps of each version.
func constraints(schema any) any {
	return rewriteSchema(schema, func(k string, _ any) bool { return annotations[k] })
}

// schemaDiff compares two versions of one schema, walking both at once,
// and names each place where next constrains a document differently from
// prev, as a path into the document ("/items/*/quantity").
type schemaDiff struct {
	prevRoot, nextRoot map[string]any
	// additive lets next add optional properties: a new minor may, a
	// released version may not change at all.
	additive bool
	found    []string
}

// diffSchemas returns how next differs from prev, one line per place.
func diffSchemas(prev, next any, additive bool) []string {
	d := &schemaDiff{additive: additive}
	d.prevRoot, _ = prev.(map[string]any)
	d.nextRoot, _ = next.(map[string]any)
	d.compare("", prev, next, 0)
	return d.found
}

func (d *schemaDiff) report(at, format string, args ...any) {
	where := "at document root"
	if at != "" {
		where = "at '" + at + "'"
	}
	d.found = append(d.found, where+": "+fmt.Sprintf(format, args...))
}

// resolve follows a local "$ref": "#/$defs/<name>", so that moving a type
// into $defs is not a change.
func resolve(root map[string]any, schema any) any {
	for range 8 {
		obj, ok := schema.(map[string]any)
		if !ok {
			return schema
		}
		ref, ok := obj["$ref"].(string)
		name, local := strings.CutPrefix(ref, "#/$defs/")
		if !ok || !local {
			return schema
		}
		defs, _ := root["$defs"].(map[string]any)
		target, ok := defs[name].(map[string]any)
		if !ok {
			return schema
		}
		merged := make(map[string]any, len(target)+len(obj))
		for k, v := range target {
			merged[k] = v
		}
		for k, v := range obj {
			if k != "$ref" {
				merged[k] = v
			}
		}
		schema = merged
	}
	return schema
}

func (d *schemaDiff) compare(at string, prev, next any, depth int) {
	if depth > 64 {
		return
	}
	prev, next = resolve(d.prevRoot, prev), resolve(d.nextRoot, next)
	p, pok := prev.(map[string]any)
	n, nok := next.(map[string]any)
	if !pok || !nok {
		if !reflect.DeepEqual(constraints(prev), constraints(next)) {
			d.report(at, "schema changed from %s to %s", compact(prev), compact(next))
		}
		return
	}
	d.compareProperties(at, p, n, depth)
	for _, k := range unionKeys(p, n) {
		if annotations[k] || k == "properties" || k == "required" || k == "$defs" || k == "$ref" {
			continue
		}
		pv, inP := p[k]
		nv, inN := n[k]
		switch {
		case !inP:
			d.report(at, "%s added (%s)", k, compact(nv))
		case !inN:
			d.report(at, "%s removed (it was %s)", k, compact(pv))
		case k == "items" || k == "additionalProperties" || k == "not" || k == "if" || k == "then" || k == "else" || k == "contains":
			sub := at
			if k == "items" {
				sub = at + "/*"
			}
			d.compare(sub, pv, nv, depth+1)
		case k == "allOf" || k == "anyOf" || k == "oneOf":
			pl, _ := pv.([]any)
			nl, _ := nv.([]any)
			if len(pl) != len(nl) {
				d.report(at, "%s changed from %d to %d schemas", k, len(pl), len(nl))
				continue
			}
			for i := range pl {
				d.compare(at, pl[i], nl[i], depth+1)
			}
		default:
			if !reflect.DeepEqual(pv, nv) {
				d.report(at, "%s changed from %s to %s", k, compact(pv), compact(nv))
			}
		}
	}
}

// compareProperties compares the declared properties and which of them
// are required.
func (d *schemaDiff) compareProperties(at string, p, n map[string]any, depth int) {
	pp, _ := p["properties"].(map[string]any)
	np, _ := n["properties"].(map[string]any)
	preq, nreq := stringSet(p["required"]), stringSet(n["required"])
	for _, name := range unionKeys(pp, np) {
		sub := at + "/" + escapeToken(name)
		ps, inP := pp[name]
		ns, inN := np[name]
		switch {
		case !inN:
			d.report(sub, "removed (a reader of the older version may rely on it)")
		case !inP && nreq[name]:
			d.report(sub, "added as required (an older producer never sends it)")
		case !inP && !d.additive:
			d.report(sub, "added")
		case !inP:
			// a new optional property: the one change a minor may make
		default:
			if preq[name] && !nreq[name] {
				d.report(sub, "no longer required (a reader of the older version requires it)")
			}
			if !preq[name] && nreq[name] {
				d.report(sub, "made required (an older producer may leave it out)")
			}
			d.compare(sub, ps, ns, depth+1)
		}
	}
	// Required names that no "properties" here declares (as in an "if" or
	// a "then"): only the list can change.
	for _, name := range unionKeys(toAny(preq), toAny(nreq)) {
		if _, declared := np[name]; declared {
			continue
		}
		if _, declared := pp[name]; declared {
			continue
		}
		switch {
		case nreq[name] && !preq[name]:
			d.report(at+"/"+escapeToken(name), "made required")
		case preq[name] && !nreq[name]:
			d.report(at+"/"+escapeToken(name), "no longer required")
		}
	}
}

func unionKeys(a, b map[string]any) []string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	return slices.Sorted(maps.Keys(keys))
}

func toAny(m map[string]bool) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func stringSet(v any) map[string]bool {
	out := map[string]bool{}
	l, _ := v.([]any)
	for _, s := range l {
		if s, ok := s.(string); ok {
			out[s] = true
		}
	}
	return out
}

// compact renders a schema value on one short line.
func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	if len(b) > 80 {
		return string(b[:77]) + "..."
	}
	return string(b)
}
