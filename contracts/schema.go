package contracts

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"sync"
)

//go:embed schemas
var schemaFiles embed.FS

// Schema is one exact version of one message's JSON Schema, compiled
// once: "orders.created" 1.1, say. Its methods are safe for concurrent use.
//
// The package variables hold the latest minor of each major; the older
// minors stay compiled beside it, so that a reader can validate an event
// strictly against the exact version its producer named.
type Schema struct {
	name    string // the message, e.g. "orders.created"
	major   int
	minor   int
	id      string // name + ".v" + major, e.g. "orders.created.v1"
	version string // major + "." + minor, e.g. "1.1"
	uri     string // schemaURI(name, major, minor)
	goType  reflect.Type
	raw     []byte // the file, for the documentation

	// doc is the file decoded, its head checked (checkHead): on first use
	// too, since decoding every file at start was 1 ms of a process's
	// init on the host, the largest part left (GODEBUG=inittrace=1).
	doc func() (any, error)
	// strict is the schema as written. lenient is the same with every
	// "additionalProperties": false taken out: what a reader applies to an
	// event of a newer minor it has never seen (Event.ValidateReceived).
	// Both compile on first use: a function validates a handful of the
	// schemas, and compiling all of them at start took 10-20 ms and 24,000
	// allocations of every process's cold start with the library used
	// then (3,300 and 2 ms now). The tests compile every version, so none
	// fails in production.
	strict, lenient func() (*node, error)
	// minors lists every minor of the major, oldest first, this one
	// included; the slice is shared by them and never changed.
	minors []*Schema
}

// ID returns the id of the schema's major version, such as
// "orders.create.request.v1". It stays the same across the minors of one
// major, so it names the schema in every validation error.
func (s *Schema) ID() string {
	if s == nil {
		return ""
	}
	return s.id
}

// Name returns the message the schema describes, without a version, such
// as "orders.created": an event's family, or a request or reply.
func (s *Schema) Name() string {
	if s == nil {
		return ""
	}
	return s.name
}

// Major returns the major version: 1 for "orders.created.v1".
func (s *Schema) Major() int {
	if s == nil {
		return 0
	}
	return s.major
}

// Version returns the exact version, major.minor, such as "1.1".
func (s *Schema) Version() string {
	if s == nil {
		return ""
	}
	return s.version
}

// URI returns the URI that names the exact version, such as
// "https://natsfn.dev/schemas/orders.created/1.1.json": the schema's
// "$id", and the value of an event's ce-dataschema attribute.
func (s *Schema) URI() string {
	if s == nil {
		return ""
	}
	return s.uri
}

// Type returns the Go type that a document of the schema decodes into
// without loss, such as contracts.OrderCreatedEvent.
func (s *Schema) Type() reflect.Type {
	if s == nil {
		return nil
	}
	return s.goType
}

// Validate reports whether doc, a JSON document, satisfies exactly this
// version of the schema: a property it does not declare is an error. A
// producer validates what it sends with it, and a request handler what it
// receives.
//
// The error it returns for a bad document wraps [ErrInvalid] and says in
// one line where and why, for example
// "orders.create.request.v1: at '/items/0/quantity': must be >= 1".
func (s *Schema) Validate(doc []byte) error {
	if s == nil || s.strict == nil {
		return errors.New("contracts: validate with a zero Schema")
	}
	return s.validate(s.strict, doc)
}

// String returns the schema id.
func (s *Schema) String() string { return s.ID() }

// Document returns the schema's JSON document, as its file holds it: what
// a function's schemas endpoint serves. The slice is new on each call.
func (s *Schema) Document() []byte { return slices.Clone(s.raw) }

// validate checks doc against one of s's compiled forms, naming s's id in
// the error.
func (s *Schema) validate(form func() (*node, error), doc []byte) error {
	compiled, err := form()
	if err != nil {
		return fmt.Errorf("contracts: schema %s %s: %w", s.id, s.version, err)
	}
	return validateWith(s.id, compiled, doc)
}

// validateWith checks doc against compiled, naming id in the error.
func validateWith(id string, compiled *node, doc []byte) error {
	v, err := decodeJSON(doc)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return &invalidError{schema: id, detail: "malformed JSON: empty document"}
		}
		return &invalidError{schema: id, detail: "malformed JSON: " + err.Error()}
	}
	var c checker
	if !c.check(compiled, v) {
		return &invalidError{schema: id, detail: describe(c.out)}
	}
	return nil
}

// newSchema holds one version's file; it is decoded and its schemas
// compiled on first use.
func newSchema(name string, major, minor int, raw []byte, goType reflect.Type) *Schema {
	s := &Schema{
		name: name, major: major, minor: minor,
		id:      name + ".v" + strconv.Itoa(major),
		version: strconv.Itoa(major) + "." + strconv.Itoa(minor),
		uri:     schemaURI(name, major, minor),
		goType:  goType,
		raw:     raw,
	}
	s.doc = sync.OnceValues(func() (any, error) {
		doc, err := decodeJSON(raw)
		if err == nil {
			err = checkHead(doc, s)
		}
		return doc, err
	})
	compiled := func(form func(any) any) func() (*node, error) {
		return sync.OnceValues(func() (*node, error) {
			doc, err := s.doc()
			if err != nil {
				return nil, err
			}
			return compileSchema(s.uri, form(doc))
		})
	}
	s.strict = compiled(func(doc any) any { return doc })
	s.lenient = compiled(withoutClosedObjects)
	return s
}

// checkHead checks that a schema file says which version it is: its
// "$id" is the version's URI, its title "<name> <major>.<minor>", and it is
// written in draft 2020-12.
func checkHead(doc any, s *Schema) error {
	obj, ok := doc.(map[string]any)
	if !ok {
		return errors.New("not a JSON object")
	}
	want := map[string]string{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"$id":     s.uri,
		"title":   s.name + " " + s.version,
	}
	for _, k := range []string{"$schema", "$id", "title"} {
		if got, _ := obj[k].(string); got != want[k] {
			return fmt.Errorf("%s is %q, want %q", k, got, want[k])
		}
	}
	return nil
}
