package contracts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// This file and validator_check.go are the package's JSON Schema
// validator: draft 2020-12 without the keywords these contracts have no
// use for, compiled on first use and run by a recursive walk.
//
// It is hand-written, and not github.com/santhosh-tekuri/jsonschema/v6
// (which this package used before, and which its tests still use as the
// reference), for one measured reason: that library compiles the
// metaschemas of five drafts in its package init, whether a program
// validates anything or not. That init took 8.8 ms and 21,000 allocations
// on the host (GODEBUG=inittrace=1 ./orders) and 15-25 ms of every
// function container's cold start (images with the init emptied against
// the real ones, in turns: 35-45 ms against 51-75 ms from the engine's
// start to the first PING answer), a third of the 40 ms goal. No
// maintained replacement fitted: google/jsonschema-go asserts no format
// and names schema paths in its errors, kaptinlin/jsonschema more than
// doubles a binary.
//
// What it does not know it refuses: a schema with a keyword outside the
// subset (a typo such as "maxLenght" included), a format it cannot
// assert, or a $ref outside its own document fails to compile, naming
// the keyword and where it is, and every schema compiles in the tests. The
// tests check it against santhosh-tekuri/jsonschema on every contract's
// examples, on documents broken in every way the contracts can be broken,
// and by fuzzing (validator_test.go).

// annotations are the keywords that describe and never constrain: the
// validator ignores them, as it does any keyword that starts with "x-",
// and a new version of a schema may change them freely (gate_test.go).
var annotations = map[string]bool{
	"$schema": true, "$id": true, "$comment": true, "title": true, "description": true,
	"default": true, "examples": true, "deprecated": true, "readOnly": true, "writeOnly": true,
}

// jsonType is a set of the JSON types the "type" keyword names.
type jsonType uint8

const (
	typeNull jsonType = 1 << iota
	typeBoolean
	typeNumber
	typeInteger
	typeString
	typeArray
	typeObject
)

// typeNames is in the order in which an error lists the types wanted.
var typeNames = []struct {
	t    jsonType
	name string
}{
	{typeNull, "null"}, {typeBoolean, "boolean"}, {typeNumber, "number"}, {typeInteger, "integer"},
	{typeString, "string"}, {typeArray, "array"}, {typeObject, "object"},
}

// node is one compiled (sub)schema. A zero count bound (-1) is absent.
type node struct {
	always *bool // a true or false schema

	types    jsonType
	hasConst bool
	constant any
	enum     []any
	format   string
	isFormat func(string) bool
	ref      *node
	refTo    string // the $ref, resolved when the whole document is compiled

	properties        map[string]*node
	patternProperties []patternNode
	additional        *node
	required          []string
	dependentRequired map[string][]string
	dependentSchemas  map[string]*node
	propertyNames     *node
	minProperties     int
	maxProperties     int

	prefixItems []*node
	items       *node
	contains    *node
	minContains int
	maxContains int
	minItems    int
	maxItems    int
	unique      bool

	minLength int
	maxLength int
	pattern   *regexp.Regexp

	minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf *number

	allOf, anyOf, oneOf []*node
	not                 *node
	ifSchema            *node
	thenSchema          *node
	elseSchema          *node
}

type patternNode struct {
	re     *regexp.Regexp
	schema *node
}

// compiler compiles one schema document.
type compiler struct {
	root any
	base string           // the document's $id
	at   map[string]*node // compiled nodes by JSON pointer, for $ref
	refs []*node          // nodes whose $ref is still to resolve
}

// compileSchema compiles a schema document (as decodeJSON returns it)
// whose $id is uri.
func compileSchema(uri string, doc any) (*node, error) {
	c := &compiler{root: doc, base: uri, at: map[string]*node{}}
	n, err := c.compile(doc, "")
	if err != nil {
		return nil, err
	}
	// A $ref names a place in the same document; compile the places
	// named, which may name others in turn.
	for len(c.refs) > 0 {
		r := c.refs[0]
		c.refs = c.refs[1:]
		target, err := c.resolve(r.refTo)
		if err != nil {
			return nil, err
		}
		r.ref = target
	}
	if err := checkCycles(n); err != nil {
		return nil, err
	}
	return n, nil
}

// resolve compiles, or finds compiled, the schema a $ref names.
func (c *compiler) resolve(ref string) (*node, error) {
	frag, ok := strings.CutPrefix(ref, "#")
	if !ok {
		if doc, f, found := strings.Cut(ref, "#"); found && doc == c.base {
			frag, ok = f, true
		} else if ref == c.base {
			frag, ok = "", true
		}
	}
	if !ok {
		return nil, fmt.Errorf("$ref %q: only references within the same document are supported", ref)
	}
	if n, done := c.at[frag]; done {
		return n, nil
	}
	v := c.root
	if frag != "" {
		if !strings.HasPrefix(frag, "/") {
			return nil, fmt.Errorf("$ref %q: anchors are not supported, use a JSON pointer such as #/$defs/name", ref)
		}
		for _, tok := range strings.Split(frag[1:], "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			var found bool
			switch cur := v.(type) {
			case map[string]any:
				v, found = cur[tok]
			case []any:
				i, err := strconv.Atoi(tok)
				if found = err == nil && i >= 0 && i < len(cur); found {
					v = cur[i]
				}
			}
			if !found {
				return nil, fmt.Errorf("$ref %q: no such place in the document", ref)
			}
		}
	}
	return c.compile(v, frag)
}

// compile compiles the schema v found at the JSON pointer at.
func (c *compiler) compile(v any, at string) (*node, error) {
	if n, done := c.at[at]; done {
		return n, nil
	}
	n := &node{minProperties: -1, maxProperties: -1, minContains: -1, maxContains: -1,
		minItems: -1, maxItems: -1, minLength: -1, maxLength: -1}
	c.at[at] = n
	if b, ok := v.(bool); ok {
		n.always = &b
		return n, nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, c.errorf(at, "a schema must be an object or a boolean, got %s", typeName(v))
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys) // the same schema, the same first error
	for _, k := range keys {
		if err := c.keyword(n, k, obj[k], at+"/"+escapeToken(k)); err != nil {
			return nil, err
		}
	}
	if n.contains == nil && (n.minContains >= 0 || n.maxContains >= 0) {
		return nil, c.errorf(at, "minContains and maxContains need contains")
	}
	return n, nil
}

// keyword compiles one keyword of the schema n; at is its location.
func (c *compiler) keyword(n *node, k string, v any, at string) error {
	var err error
	switch k {
	case "type":
		n.types, err = c.types(v, at)
	case "const":
		n.hasConst, n.constant = true, v
	case "enum":
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			return c.errorf(at, "must be a non-empty array")
		}
		n.enum = list
	case "format":
		name, _ := v.(string)
		n.format, n.isFormat = name, formats[name]
		if n.isFormat == nil {
			return c.errorf(at, "format %q is not supported (supported: date, date-time, time, uuid)", v)
		}
	case "$ref":
		ref, ok := v.(string)
		if !ok {
			return c.errorf(at, "must be a string")
		}
		n.refTo = ref
		c.refs = append(c.refs, n)
	case "$defs":
		defs, ok := v.(map[string]any)
		if !ok {
			return c.errorf(at, "must be an object")
		}
		// Compiled when a $ref names them; checked here, so that a broken
		// definition nothing uses yet fails too.
		for name, d := range defs {
			if _, err := c.compile(d, at+"/"+escapeToken(name)); err != nil {
				return err
			}
		}
	case "properties", "dependentSchemas", "patternProperties":
		m, ok := v.(map[string]any)
		if !ok {
			return c.errorf(at, "must be an object")
		}
		compiled := make(map[string]*node, len(m))
		for name, s := range m {
			if compiled[name], err = c.compile(s, at+"/"+escapeToken(name)); err != nil {
				return err
			}
		}
		switch k {
		case "properties":
			n.properties = compiled
		case "dependentSchemas":
			n.dependentSchemas = compiled
		default:
			for expr, s := range compiled {
				re, err := regexp.Compile(expr)
				if err != nil {
					return c.errorf(at, "pattern %q: %v", expr, err)
				}
				n.patternProperties = append(n.patternProperties, patternNode{re: re, schema: s})
			}
		}
	case "additionalProperties":
		n.additional, err = c.compile(v, at)
	case "propertyNames":
		n.propertyNames, err = c.compile(v, at)
	case "items":
		n.items, err = c.compile(v, at)
	case "contains":
		n.contains, err = c.compile(v, at)
	case "not":
		n.not, err = c.compile(v, at)
	case "if":
		n.ifSchema, err = c.compile(v, at)
	case "then":
		n.thenSchema, err = c.compile(v, at)
	case "else":
		n.elseSchema, err = c.compile(v, at)
	case "prefixItems", "allOf", "anyOf", "oneOf":
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			return c.errorf(at, "must be a non-empty array of schemas")
		}
		compiled := make([]*node, len(list))
		for i, s := range list {
			if compiled[i], err = c.compile(s, at+"/"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
		switch k {
		case "prefixItems":
			n.prefixItems = compiled
		case "allOf":
			n.allOf = compiled
		case "anyOf":
			n.anyOf = compiled
		default:
			n.oneOf = compiled
		}
	case "required":
		n.required, err = c.names(v, at)
	case "dependentRequired":
		m, ok := v.(map[string]any)
		if !ok {
			return c.errorf(at, "must be an object")
		}
		n.dependentRequired = make(map[string][]string, len(m))
		for name, list := range m {
			if n.dependentRequired[name], err = c.names(list, at+"/"+escapeToken(name)); err != nil {
				return err
			}
		}
	case "minProperties":
		n.minProperties, err = c.count(v, at)
	case "maxProperties":
		n.maxProperties, err = c.count(v, at)
	case "minItems":
		n.minItems, err = c.count(v, at)
	case "maxItems":
		n.maxItems, err = c.count(v, at)
	case "minContains":
		n.minContains, err = c.count(v, at)
	case "maxContains":
		n.maxContains, err = c.count(v, at)
	case "minLength":
		n.minLength, err = c.count(v, at)
	case "maxLength":
		n.maxLength, err = c.count(v, at)
	case "uniqueItems":
		b, ok := v.(bool)
		if !ok {
			return c.errorf(at, "must be a boolean")
		}
		n.unique = b
	case "pattern":
		expr, ok := v.(string)
		if !ok {
			return c.errorf(at, "must be a string")
		}
		if n.pattern, err = regexp.Compile(expr); err != nil {
			return c.errorf(at, "%v", err)
		}
	case "minimum":
		n.minimum, err = c.bound(v, at)
	case "maximum":
		n.maximum, err = c.bound(v, at)
	case "exclusiveMinimum":
		n.exclusiveMinimum, err = c.bound(v, at)
	case "exclusiveMaximum":
		n.exclusiveMaximum, err = c.bound(v, at)
	case "multipleOf":
		if n.multipleOf, err = c.bound(v, at); err == nil && n.multipleOf.sign() <= 0 {
			err = c.errorf(at, "must be greater than 0")
		}
	default:
		if annotations[k] || strings.HasPrefix(k, "x-") {
			return nil
		}
		return c.errorf(at, "keyword %q is not supported", k)
	}
	return err
}

func (c *compiler) errorf(at, format string, args ...any) error {
	return fmt.Errorf("at '#%s': %s", at, fmt.Sprintf(format, args...))
}

func (c *compiler) types(v any, at string) (jsonType, error) {
	var names []any
	switch v := v.(type) {
	case string:
		names = []any{v}
	case []any:
		names = v
	}
	var set jsonType
	for _, name := range names {
		known := false
		for _, t := range typeNames {
			if t.name == name {
				set, known = set|t.t, true
			}
		}
		if !known {
			return 0, c.errorf(at, "%s is not a JSON type", literal(name))
		}
	}
	if set == 0 {
		return 0, c.errorf(at, "must name a type or a list of them")
	}
	return set, nil
}

func (c *compiler) names(v any, at string) ([]string, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, c.errorf(at, "must be an array of strings")
	}
	out := make([]string, len(list))
	for i, name := range list {
		if out[i], ok = name.(string); !ok {
			return nil, c.errorf(at, "must be an array of strings")
		}
	}
	return out, nil
}

func (c *compiler) count(v any, at string) (int, error) {
	n, ok := v.(json.Number)
	if ok {
		if i, err := strconv.ParseInt(string(n), 10, 32); err == nil && i >= 0 {
			return int(i), nil
		}
	}
	return 0, c.errorf(at, "must be a non-negative integer")
}

func (c *compiler) bound(v any, at string) (*number, error) {
	n, ok := v.(json.Number)
	if !ok {
		return nil, c.errorf(at, "must be a number")
	}
	num, ok := parseNumber(n)
	if !ok {
		return nil, c.errorf(at, "%s is not a number this validator can compare", n)
	}
	return &num, nil
}

// checkCycles refuses a schema that could reach itself without looking
// one level into the document ({"$ref": "#"} at the root, say): validating
// with it would never end.
func checkCycles(root *node) error {
	const (
		visiting = 1
		done     = 2
	)
	state := map[*node]int{}
	var visit func(n *node) error
	visit = func(n *node) error {
		switch state[n] {
		case visiting:
			return errors.New("a $ref cycle that does not descend into the document")
		case done:
			return nil
		}
		state[n] = visiting
		for _, next := range n.sameValue() {
			if err := visit(next); err != nil {
				return err
			}
		}
		state[n] = done
		return nil
	}
	// Every node is reachable from the root or from a definition, and the
	// nodes below a property are roots of their own walks.
	all := map[*node]bool{}
	var collect func(n *node)
	collect = func(n *node) {
		if n == nil || all[n] {
			return
		}
		all[n] = true
		for _, next := range n.children() {
			collect(next)
		}
	}
	collect(root)
	for n := range all {
		if err := visit(n); err != nil {
			return err
		}
	}
	return nil
}

// sameValue lists the schemas n applies to the value it is given.
func (n *node) sameValue() []*node {
	out := slices.Concat(n.allOf, n.anyOf, n.oneOf)
	for _, s := range []*node{n.ref, n.not, n.ifSchema, n.thenSchema, n.elseSchema} {
		if s != nil {
			out = append(out, s)
		}
	}
	for _, s := range n.dependentSchemas {
		out = append(out, s)
	}
	return out
}

// children lists every schema n holds.
func (n *node) children() []*node {
	out := slices.Concat(n.sameValue(), n.prefixItems)
	for _, s := range []*node{n.additional, n.propertyNames, n.items, n.contains} {
		if s != nil {
			out = append(out, s)
		}
	}
	for _, s := range n.properties {
		out = append(out, s)
	}
	for _, p := range n.patternProperties {
		out = append(out, p.schema)
	}
	return out
}

// decodeJSON reads one JSON document, numbers as json.Number, and
// nothing after it.
func decodeJSON(doc []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid character after top-level value")
	}
	return v, nil
}

// number is a JSON number, exact: an int64 when it fits, else a rational.
// A number whose exponent is beyond ±maxExponent is held as a float64,
// rounded, so that a document cannot make a rational of a million digits.
type number struct {
	small bool
	i     int64
	r     *big.Rat
	f     float64 // when neither
}

const maxExponent = 400

func parseNumber(n json.Number) (number, bool) {
	s := string(n)
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return number{small: true, i: i}, true
	}
	if e := strings.IndexAny(s, "eE"); e >= 0 {
		if exp, err := strconv.Atoi(strings.TrimPrefix(s[e+1:], "+")); err != nil || exp > maxExponent || exp < -maxExponent {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil && !errors.Is(err, strconv.ErrRange) {
				return number{}, false
			}
			return number{f: f}, true
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return number{}, false
	}
	return number{r: r}, true
}

func (a number) rat() *big.Rat {
	switch {
	case a.small:
		return new(big.Rat).SetInt64(a.i)
	case a.r != nil:
		return a.r
	default:
		return nil
	}
}

func (a number) float() float64 {
	switch {
	case a.small:
		return float64(a.i)
	case a.r != nil:
		f, _ := a.r.Float64()
		return f
	default:
		return a.f
	}
}

// cmp compares a and b: -1, 0 or +1.
func (a number) cmp(b number) int {
	if a.small && b.small {
		switch {
		case a.i < b.i:
			return -1
		case a.i > b.i:
			return 1
		}
		return 0
	}
	if ra, rb := a.rat(), b.rat(); ra != nil && rb != nil {
		return ra.Cmp(rb)
	}
	fa, fb := a.float(), b.float()
	switch {
	case fa < fb:
		return -1
	case fa > fb:
		return 1
	}
	return 0
}

func (a number) sign() int { return a.cmp(number{small: true}) }

func (a number) isInteger() bool {
	switch {
	case a.small:
		return true
	case a.r != nil:
		return a.r.IsInt()
	default:
		return !math.IsInf(a.f, 0) && a.f == math.Trunc(a.f)
	}
}

// multipleOf reports whether a is an integer multiple of b (b > 0).
func (a number) multipleOf(b number) bool {
	if a.small && b.small {
		return a.i%b.i == 0
	}
	if ra, rb := a.rat(), b.rat(); ra != nil && rb != nil {
		return new(big.Rat).Quo(ra, rb).IsInt()
	}
	q := a.float() / b.float()
	return !math.IsInf(q, 0) && q == math.Trunc(q)
}

// String renders a schema's bound, without a fraction when it has none.
func (a number) String() string {
	switch {
	case a.small:
		return strconv.FormatInt(a.i, 10)
	case a.r != nil && a.r.IsInt():
		return a.r.Num().String()
	default:
		return strconv.FormatFloat(a.float(), 'g', -1, 64)
	}
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
