package scaffold

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
)

// releasedFile keeps the constraints of every released schema version; the
// contracts' compatibility gate fails on a version it does not list.
const releasedFile = "contracts/testdata/released.json"

// annotations describe and never constrain, so released.json leaves them
// out (contracts/gate_diff_test.go has the same list).
var annotations = map[string]bool{
	"$schema": true, "$id": true, "$comment": true, "title": true, "description": true,
	"examples": true, "default": true, "deprecated": true, "readOnly": true, "writeOnly": true,
}

// release adds the new schemas' 1.0 to released.json, as `go test
// ./contracts -run TestCompatibilityGate -release` would, but for these
// schemas only: the gate's -release also releases whatever other version a
// developer has in progress. The file comes back in the gate's format:
// one line per version, sorted.
func release(current []byte, schemas []file) ([]byte, error) {
	released := map[string]json.RawMessage{}
	if err := json.Unmarshal(current, &released); err != nil {
		return nil, fmt.Errorf("scaffold: %s: %w", releasedFile, err)
	}
	for _, s := range schemas {
		// contracts/schemas/<name>/<major>.<minor>.json
		key := path.Base(path.Dir(s.path)) + " " + strings.TrimSuffix(path.Base(s.path), ".json")
		if _, ok := released[key]; ok {
			return nil, fmt.Errorf("%w: %s already releases %s", ErrName, releasedFile, key)
		}
		c, err := constraints(s.data)
		if err != nil {
			return nil, fmt.Errorf("scaffold: %s: %w", s.path, err)
		}
		released[key] = c
	}
	var buf bytes.Buffer
	buf.WriteString("{\n")
	for i, key := range slices.Sorted(maps.Keys(released)) {
		if i > 0 {
			buf.WriteString(",\n")
		}
		k, _ := json.Marshal(key)
		fmt.Fprintf(&buf, "  %s: %s", k, released[key])
	}
	buf.WriteString("\n}\n")
	return buf.Bytes(), nil
}

// constraints is a schema without its annotations, in compact JSON with
// sorted keys and numbers as written.
func constraints(schema []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(schema))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	return json.Marshal(strip(doc)) // as the gate's -release writes it
}

// strip removes the annotation keywords of a schema at every depth, as
// the gate's constraints do (contracts/lenient.go rewriteSchema): it walks
// subschemas only, so a property named "title" and the data of "enum" or
// "const" stay.
func strip(schema any) any {
	obj, ok := schema.(map[string]any)
	if !ok {
		return schema // true or false
	}
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		if annotations[k] {
			continue
		}
		switch k {
		case "properties", "patternProperties", "$defs", "dependentSchemas":
			if m, ok := v.(map[string]any); ok {
				sub := make(map[string]any, len(m))
				for name, s := range m {
					sub[name] = strip(s)
				}
				v = sub
			}
		case "allOf", "anyOf", "oneOf", "prefixItems":
			if l, ok := v.([]any); ok {
				sub := make([]any, len(l))
				for i, s := range l {
					sub[i] = strip(s)
				}
				v = sub
			}
		case "items", "contains", "not", "if", "then", "else", "propertyNames",
			"additionalProperties", "unevaluatedProperties", "unevaluatedItems":
			v = strip(v)
		}
		out[k] = v
	}
	return out
}
