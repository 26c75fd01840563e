package contracts

import (
	"errors"
	"strconv"
)

// ValidateReceived reports whether doc is a valid payload of the event as
// its consumer reads it; dataschema is the ce-dataschema attribute the
// producer sent with it, or "" when it sent none.
//
// A consumer is strict about what it knows and ignores what it does not:
//
//   - dataschema names a version this program knows, a minor of the
//     event's major up to its own: doc is checked strictly against
//     exactly that version, as its producer checked it.
//   - dataschema names a newer minor of the same major, one this program
//     has never seen: doc is checked against the latest minor it knows,
//     leniently. A property that version does not declare, at any depth,
//     is ignored (a newer minor only adds optional ones); every property
//     it declares must still be as it says: present when required, of
//     its type, within its bounds.
//   - dataschema is empty, or the major's id ("orders.created.v1", which
//     producers sent before versions had URIs): the minor is unknown, so
//     doc is read leniently against the latest minor.
//   - dataschema names another event or another major, or is not a natsfn
//     schema URI: the event is refused, since it was not published as this
//     one.
//
// The errors wrap [ErrInvalid], as those of [Event.Validate] do.
func (e Event) ValidateReceived(dataschema string, doc []byte) error {
	s := e.schema
	if s == nil {
		return errors.New("contracts: validate with a zero Event")
	}
	if dataschema == s.uri {
		return s.validate(s.strict, doc) // the common case: the same version
	}
	for _, known := range s.minors {
		if known.uri == dataschema {
			return known.validate(known.strict, doc)
		}
	}
	if dataschema == "" || dataschema == s.id {
		return s.validate(s.lenient, doc)
	}
	name, major, _, ok := parseSchemaURI(dataschema)
	if !ok {
		return &invalidError{schema: s.id, detail: "ce-dataschema " + strconv.Quote(dataschema) + " is not a natsfn schema URI"}
	}
	if name != s.name || major != s.major {
		return &invalidError{schema: s.id, detail: "ce-dataschema " + dataschema +
			" is " + name + " major " + strconv.Itoa(major) + ", not a version of this event"}
	}
	// A minor of this major that this program does not hold: a newer one,
	// since minors are only ever added.
	return s.validate(s.lenient, doc)
}
