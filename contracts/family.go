package contracts

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
)

// Family is one event with all its majors, such as "inventory.reserved"
// with InventoryReserved (major 1) and InventoryReservedV2 (major 2), and
// the converters between adjacent majors. A family of one major has no
// converters.
//
// The runtime keys an event's migration phase (publish major 1 only, both,
// or the new major only) by the family's name; see [Event.Convert] for how
// it moves a payload between majors.
type Family struct {
	name     string
	versions []Event      // by major, oldest first: versions[i].Major() == i+1
	up, down []conversion // up[i]: versions[i] → versions[i+1]; down[i]: back
}

// Name returns the family's name, e.g. "inventory.reserved".
func (f Family) Name() string { return f.name }

// Versions returns the family's majors, oldest first. The slice is new on
// each call.
func (f Family) Versions() []Event { return slices.Clone(f.versions) }

// Version returns the given major.
func (f Family) Version(major int) (Event, bool) {
	if major < 1 || major > len(f.versions) {
		return Event{}, false
	}
	return f.versions[major-1], true
}

// conversion is a converter between two Go types, registered once.
type conversion struct {
	from, to reflect.Type
	fn       func(any) (any, error)
}

// converter registers a typed converter such as UpcastInventoryReserved.
func converter[From, To any](fn func(From) (To, error)) conversion {
	return conversion{
		from: reflect.TypeFor[From](),
		to:   reflect.TypeFor[To](),
		fn:   func(v any) (any, error) { return fn(v.(From)) },
	}
}

// conversions are the converters of the reference flow (converters.go). To
// add a major to a family: declare its schema and Event, and register its
// upcast from the previous major and its downcast back here. Both are
// required: consumers upcast, and producers that publish both majors
// during the move derive the old one by a downcast.
var conversions = []conversion{
	converter(UpcastInventoryReserved), converter(DowncastInventoryReserved),
	converter(UpcastPaymentCompleted), converter(DowncastPaymentCompleted),
	converter(UpcastPaymentFailed), converter(DowncastPaymentFailed),
	converter(UpcastPaymentRefunded), converter(DowncastPaymentRefunded),
}

// families holds every event's family, by name, built once from Events
// and conversions and never changed.
var families = mustFamilies(Events(), conversions)

// mustFamilies groups events by name and attaches the converters; a major
// missing from a family, or a converter missing between two majors, is a
// programming error, caught by the tests.
func mustFamilies(events []Event, convs []conversion) map[string]*Family {
	out := map[string]*Family{}
	for _, ev := range events {
		f := out[ev.Name()]
		if f == nil {
			f = &Family{name: ev.Name()}
			out[ev.Name()] = f
		}
		if ev.Major() != len(f.versions)+1 {
			panic(fmt.Sprintf("contracts: %s comes after major %d of its family", ev.ID(), len(f.versions)))
		}
		if len(f.versions) > 0 {
			prev := f.versions[len(f.versions)-1]
			f.up = append(f.up, mustConversion(convs, prev, ev))
			f.down = append(f.down, mustConversion(convs, ev, prev))
		}
		f.versions = append(f.versions, ev)
	}
	return out
}

func mustConversion(convs []conversion, from, to Event) conversion {
	for _, c := range convs {
		if c.from == from.Type() && c.to == to.Type() {
			return c
		}
	}
	panic(fmt.Sprintf("contracts: no converter from %s (%s) to %s (%s)", from.ID(), from.Type(), to.ID(), to.Type()))
}

// Families returns every event family, in the order of [Events]. The
// slice is new on each call.
func Families() []Family {
	var out []Family
	for _, ev := range Events() {
		if ev.Major() == 1 {
			out = append(out, *families[ev.Name()])
		}
	}
	return out
}

// LookupFamily returns the family with the given name, e.g.
// "inventory.reserved".
func LookupFamily(name string) (Family, bool) {
	f, ok := families[name]
	if !ok {
		return Family{}, false
	}
	return *f, true
}

// Convert converts doc, a valid payload of e, into a payload of another
// major of e's family, through the registered converters one major at a
// time, and checks the result strictly against that major's schema.
//
// A consumer that handles major 2 and reads major 1 (published by
// producers that have not moved yet) calls it on the major 1 event with
// major 2: an upcast. A producer that emits major 2 and must still publish
// major 1 beside it calls it on the major 2 event with major 1: a
// downcast, which fails with an error wrapping [ErrInvalid] when the
// payload cannot be expressed in major 1 (an amount not in V1Currency).
//
// doc may come from a newer minor than this program knows: the properties
// it does not know are dropped by the conversion.
func (e Event) Convert(doc []byte, major int) ([]byte, error) {
	if e.schema == nil {
		return nil, fmt.Errorf("contracts: convert with a zero Event")
	}
	f := families[e.Name()]
	target, ok := f.Version(major)
	if !ok {
		return nil, fmt.Errorf("%s: no major %d in family %s: %w", e.ID(), major, e.Name(), ErrInvalid)
	}
	if major == e.Major() {
		return doc, nil
	}
	v := reflect.New(e.Type())
	if err := json.Unmarshal(doc, v.Interface()); err != nil {
		return nil, fmt.Errorf("%s: convert: %v: %w", e.ID(), err, ErrInvalid)
	}
	cur := v.Elem().Interface()
	for m := e.Major(); m != major; {
		var c conversion
		if m < major {
			c, m = f.up[m-1], m+1
		} else {
			c, m = f.down[m-2], m-1
		}
		next, err := c.fn(cur)
		if err != nil {
			return nil, fmt.Errorf("%s to major %d: %w", e.ID(), m, err)
		}
		cur = next
	}
	out, err := json.Marshal(cur)
	if err != nil {
		return nil, fmt.Errorf("%s to %s: %w", e.ID(), target.ID(), err)
	}
	if err := target.Validate(out); err != nil {
		return nil, fmt.Errorf("%s to %s: %w", e.ID(), target.ID(), err)
	}
	return out, nil
}
