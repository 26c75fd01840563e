package contracts

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed schemas/*.json
var schemaFiles embed.FS

// schemaBaseURL prefixes every schema id to form its "$id".
const schemaBaseURL = "https://natsfn.dev/schemas/"

// Schema is one versioned JSON Schema of the contracts, compiled once.
// Its methods are safe for concurrent use.
type Schema struct {
	id       string
	compiled *jsonschema.Schema
}

// ID returns the schema id, such as "orders.create.request.v1". It is the
// value of the ce-dataschema header of an event.
func (s *Schema) ID() string {
	if s == nil {
		return ""
	}
	return s.id
}

// Validate reports whether doc, a JSON document, satisfies the schema.
// The error it returns for a bad document wraps [ErrInvalid] and says in
// one line where and why, for example
// "orders.create.request.v1: at '/items/0/quantity': must be >= 1".
func (s *Schema) Validate(doc []byte) error {
	if s == nil || s.compiled == nil {
		return errors.New("contracts: validate with a zero Schema")
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		if errors.Is(err, io.EOF) {
			return &invalidError{schema: s.id, detail: "malformed JSON: empty document"}
		}
		return &invalidError{schema: s.id, detail: "malformed JSON: " + err.Error()}
	}
	if err := s.compiled.Validate(v); err != nil {
		var verr *jsonschema.ValidationError
		if errors.As(err, &verr) {
			return &invalidError{schema: s.id, detail: describe(verr)}
		}
		return &invalidError{schema: s.id, detail: err.Error()}
	}
	return nil
}

// String returns the schema id.
func (s *Schema) String() string { return s.ID() }

// compileSchema compiles the embedded file schemas/<id>.json, asserting
// formats (uuid, date-time), which draft 2020-12 only annotates by default.
func compileSchema(id string) (*Schema, error) {
	raw, err := schemaFiles.ReadFile("schemas/" + id + ".json")
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", id, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", id, err)
	}
	url := schemaBaseURL + id + ".json"
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("schema %s: %w", id, err)
	}
	compiled, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", id, err)
	}
	return &Schema{id: id, compiled: compiled}, nil
}

// mustSchema compiles an embedded schema at package initialisation. The
// files ship inside the binary and are covered by the tests, so a failure
// is a programming error, not bad input.
func mustSchema(id string) *Schema {
	s, err := compileSchema(id)
	if err != nil {
		panic("contracts: " + err.Error())
	}
	return s
}
