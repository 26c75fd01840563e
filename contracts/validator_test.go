package contracts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"maps"
	"math/big"
	"os"
	"os/exec"
	"path"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// The package's validator (validator.go) is checked here against
// santhosh-tekuri/jsonschema/v6, a maintained implementation of draft
// 2020-12 that passes the JSON Schema test suite: the same documents must
// get the same verdict and, for every keyword the contracts use, the same
// message.

// reference is a schema compiled by the reference library.
type reference struct{ schema *jsonschema.Schema }

func compileReference(t testing.TB, uri string, doc any) reference {
	t.Helper()
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(uri, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(uri)
	if err != nil {
		t.Fatalf("reference compile %s: %v", uri, err)
	}
	return reference{s}
}

// verdict is "" for a valid document, else its one-line message.
func (r reference) verdict(doc []byte) string {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return "malformed"
	}
	err = r.schema.Validate(v)
	if err == nil {
		return ""
	}
	verr, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return err.Error()
	}
	return describe(referenceLeaves(verr, nil))
}

func ourVerdict(n *node, doc []byte) string {
	v, err := decodeJSON(doc)
	if err != nil {
		return "malformed"
	}
	var c checker
	if c.check(n, v) {
		if len(c.out) != 0 {
			return fmt.Sprintf("valid, with violations recorded: %v", c.out)
		}
		return ""
	}
	if len(c.out) == 0 {
		return "invalid, with no violation recorded"
	}
	return describe(c.out)
}

// referenceLeaves flattens the reference library's tree of errors into
// violations worded as the package words them: its leaves, the nodes above
// them (allOf, $ref, groups) only saying that something below failed.
func referenceLeaves(err *jsonschema.ValidationError, out []violation) []violation {
	if len(err.Causes) > 0 {
		for _, cause := range err.Causes {
			out = referenceLeaves(cause, out)
		}
		return out
	}
	at := pointer(err.InstanceLocation)
	num := func(r *big.Rat) string {
		if r.IsInt() {
			return r.Num().String()
		}
		f, _ := r.Float64()
		return strconv.FormatFloat(f, 'g', -1, 64)
	}
	var rule string
	switch k := err.ErrorKind.(type) {
	case *kind.Required:
		for _, name := range k.Missing {
			out = append(out, violation{at: at + "/" + escapeToken(name), rule: "is required"})
		}
		return out
	case *kind.AdditionalProperties:
		for _, name := range k.Properties {
			out = append(out, violation{at: at + "/" + escapeToken(name), rule: "is not allowed"})
		}
		return out
	case *kind.Type:
		rule = "must be " + strings.Join(k.Want, " or ") + ", got " + k.Got
	case *kind.Enum:
		rule = enumRule(k.Want)
	case *kind.Const:
		rule = "must be " + literal(k.Want)
	case *kind.Minimum:
		rule = "must be >= " + num(k.Want)
	case *kind.Maximum:
		rule = "must be <= " + num(k.Want)
	case *kind.ExclusiveMinimum:
		rule = "must be > " + num(k.Want)
	case *kind.ExclusiveMaximum:
		rule = "must be < " + num(k.Want)
	case *kind.MultipleOf:
		rule = "must be a multiple of " + num(k.Want)
	case *kind.MinItems:
		rule = "must have at least " + count(k.Want, "item")
	case *kind.MaxItems:
		rule = "must have at most " + count(k.Want, "item")
	case *kind.MinLength:
		rule = "must be at least " + count(k.Want, "character") + " long"
	case *kind.MaxLength:
		rule = "must be at most " + count(k.Want, "character") + " long"
	case *kind.MinProperties:
		rule = "must have at least " + count(k.Want, "property")
	case *kind.MaxProperties:
		rule = "must have at most " + count(k.Want, "property")
	case *kind.Pattern:
		rule = "must match " + k.Want
	case *kind.Format:
		rule = "must be a valid " + k.Want
	case *kind.FalseSchema:
		rule = "is not allowed"
	default:
		rule = k.LocalizedString(message.NewPrinter(language.English))
	}
	return append(out, violation{at: at, rule: rule})
}

// contractVersion is one version of one contract schema, in both forms.
type contractVersion struct {
	name                  string
	strict, lenient       *node
	refStrict, refLenient reference
	examples              [][]byte
	strictDoc, lenientDoc any
}

func contractVersions(t testing.TB) []contractVersion {
	t.Helper()
	files, err := fs.Glob(schemaFiles, "schemas/*/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("schema files: %v (%d)", err, len(files))
	}
	pkgDir := os.DirFS(".")
	var out []contractVersion
	for _, file := range files {
		raw, err := fs.ReadFile(schemaFiles, file)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := decodeJSON(raw)
		if err != nil {
			t.Fatal(err)
		}
		uri := doc.(map[string]any)["$id"].(string)
		cv := contractVersion{name: strings.TrimPrefix(file, "schemas/"), strictDoc: doc, lenientDoc: withoutClosedObjects(doc)}
		if cv.strict, err = compileSchema(uri, cv.strictDoc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if cv.lenient, err = compileSchema(uri, cv.lenientDoc); err != nil {
			t.Fatalf("%s lenient: %v", file, err)
		}
		refDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		cv.refStrict = compileReference(t, uri, refDoc)
		cv.refLenient = compileReference(t, uri, withoutClosedObjects(refDoc))
		dir := "examples/" + path.Dir(cv.name) + "/" + strings.TrimSuffix(path.Base(cv.name), ".json")
		examples, _ := fs.Glob(pkgDir, dir+"/*.json")
		for _, ex := range examples {
			b, err := fs.ReadFile(pkgDir, ex)
			if err != nil {
				t.Fatal(err)
			}
			cv.examples = append(cv.examples, b)
		}
		if len(cv.examples) == 0 {
			t.Fatalf("%s: no examples in %s", file, dir)
		}
		out = append(out, cv)
	}
	return out
}

// TestValidatorMatchesReferenceOnContracts validates every contract's
// examples, and every document one edit away from them, with both
// validators, strictly and leniently: the verdicts and the messages must
// be the same.
func TestValidatorMatchesReferenceOnContracts(t *testing.T) {
	versions := contractVersions(t)
	replacements := mutationValues(versions)
	docs, invalid := 0, 0
	for _, cv := range versions {
		seen := map[string]bool{}
		for _, ex := range cv.examples {
			base, err := decodeJSON(ex)
			if err != nil {
				t.Fatal(err)
			}
			for _, doc := range mutations(base, replacements) {
				b, err := json.Marshal(doc)
				if err != nil {
					t.Fatal(err)
				}
				if seen[string(b)] {
					continue
				}
				seen[string(b)] = true
				for _, form := range []struct {
					name string
					ours *node
					ref  reference
				}{{"strict", cv.strict, cv.refStrict}, {"lenient", cv.lenient, cv.refLenient}} {
					docs++
					want, got := form.ref.verdict(b), ourVerdict(form.ours, b)
					if want != "" {
						invalid++
					}
					if got != want {
						t.Errorf("%s %s: %s\n got: %q\nwant: %q", cv.name, form.name, b, got, want)
					}
				}
			}
		}
	}
	t.Logf("%d schema versions, %d validations, %d of them invalid", len(versions), docs, invalid)
	if invalid == 0 || invalid == docs {
		t.Fatalf("%d of %d invalid: the corpus does not test both ways", invalid, docs)
	}
}

// mutationValues are the values an edit puts in place of another: each of
// JSON's types, the bounds the contracts use and one past them, strings
// around their limits and their formats, and every enum and const member.
func mutationValues(versions []contractVersion) []any {
	n := func(s string) any { return json.Number(s) }
	out := []any{
		nil, true, false, n("0"), n("-1"), n("1"), n("1.5"), n("1.0"), n("1e2"), n("10000"), n("10001"),
		n("1000000000"), n("1000000001"), n("1000000000000000"), n("1000000000000001"), n("9223372036854775808"),
		n("-0.5"), n("1e400"), "", "x", "sku-1", "bad id!", "a..b", strings.Repeat("y", 128), strings.Repeat("y", 129),
		strings.Repeat("é", 128), strings.Repeat("é", 129), strings.Repeat("z", 1025),
		"2025-11-26T09:30:00Z", "2025-11-26t09:30:00.123z", "2025-11-26T09:30:00+05:30", "2025-02-29T00:00:00Z",
		"2024-02-29T00:00:00Z", "2025-11-26T23:59:60Z", "2025-11-26T09:30:60Z", "2025-11-26 09:30:00Z",
		"2025-11-26T09:30:00", "2025-13-01T00:00:00Z",
		"0b6f3c2e-8d1a-4f59-9c3e-5a7d2b1e4f60", "0B6F3C2E-8D1A-4F59-9C3E-5A7D2B1E4F60", "0b6f3c2e8d1a4f599c3e5a7d2b1e4f60",
		"0b6f3c2e-8d1a-4f59-9c3e-5a7d2b1e4f6g",
		[]any{}, map[string]any{},
	}
	for _, cv := range versions {
		walkSchema(cv.strictDoc, func(obj map[string]any) {
			if list, ok := obj["enum"].([]any); ok {
				out = append(out, list...)
			}
			if v, ok := obj["const"]; ok {
				out = append(out, v)
			}
		})
	}
	return out
}

func walkSchema(v any, visit func(map[string]any)) {
	switch v := v.(type) {
	case map[string]any:
		visit(v)
		for _, sub := range v {
			walkSchema(sub, visit)
		}
	case []any:
		for _, sub := range v {
			walkSchema(sub, visit)
		}
	}
}

// mutations returns doc and every document one edit away from it: a value
// replaced, a member removed or added, an array emptied or grown.
func mutations(doc any, values []any) []any {
	out := []any{doc}
	var walk func(v any, set func(any) any)
	walk = func(v any, set func(any) any) {
		for _, r := range values {
			out = append(out, set(r))
		}
		switch v := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(v)) {
				without := maps.Clone(v)
				delete(without, k)
				out = append(out, set(without))
				walk(v[k], func(r any) any {
					c := maps.Clone(v)
					c[k] = r
					return set(c)
				})
			}
			extra := maps.Clone(v)
			extra["zz_extra"] = json.Number("1")
			out = append(out, set(extra))
		case []any:
			if len(v) > 0 {
				out = append(out, set(append(slices.Clone(v), v[0])))
			}
			for i := range v {
				walk(v[i], func(r any) any {
					c := slices.Clone(v)
					c[i] = r
					return set(c)
				})
			}
		}
	}
	walk(doc, func(r any) any { return r })
	return out
}

// TestValidatorMatchesReferenceOnKeywords covers the keywords of the subset
// that no contract uses yet: the verdicts must be the reference's, and so
// must the messages of the keywords whose wording is the package's own.
func TestValidatorMatchesReferenceOnKeywords(t *testing.T) {
	cases := []struct {
		schema string
		docs   []string
		// sameMessage: the reference words these keywords' errors its own
		// way ("'not' failed"); the verdicts must still match.
		sameMessage bool
	}{
		{`{"type":["string","null"],"maxLength":2}`, []string{`null`, `"ab"`, `"abc"`, `1`}, true},
		{`{"type":"number","exclusiveMinimum":0,"exclusiveMaximum":1.5,"multipleOf":0.25}`,
			[]string{`0`, `0.25`, `0.3`, `1.5`, `1.25`, `-1`, `1e-400`}, true},
		{`{"type":"integer","multipleOf":3}`, []string{`9`, `10`, `9.0`, `1e2`, `3e2`}, true},
		{`{"minProperties":1,"maxProperties":2}`, []string{`{}`, `{"a":1}`, `{"a":1,"b":2,"c":3}`, `[]`}, true},
		{`{"patternProperties":{"^x-":{"type":"string"}},"additionalProperties":{"type":"integer"}}`,
			[]string{`{"x-a":"s","b":1}`, `{"x-a":1}`, `{"b":"s"}`}, true},
		{`{"dependentRequired":{"a":["b","c"]}}`, []string{`{"a":1,"b":2,"c":3}`, `{"b":1}`, `{"a":1,"b":2}`}, false},
		{`{"dependentSchemas":{"a":{"required":["b"]}}}`, []string{`{"a":1,"b":2}`, `{"a":1}`, `{"c":1}`}, true},
		{`{"propertyNames":{"maxLength":3}}`, []string{`{"abc":1}`, `{"abcd":1}`}, false},
		{`{"prefixItems":[{"type":"string"},{"type":"integer"}],"items":false}`,
			[]string{`["a",1]`, `["a"]`, `[1,"a"]`, `["a",1,2]`}, true},
		{`{"uniqueItems":true}`, []string{`[1,2,3]`, `[1,2,1]`, `[1,1.0]`, `[{"a":1,"b":2},{"b":2,"a":1}]`, `[[1],[1,2]]`, `["1",1]`}, false},
		{`{"contains":{"const":1},"minContains":2,"maxContains":3}`,
			[]string{`[1,1]`, `[1]`, `[1,1,1,1]`, `[2,2]`, `[]`}, false},
		{`{"contains":{"type":"string"}}`, []string{`["a"]`, `[1]`, `[]`}, false},
		{`{"anyOf":[{"type":"string"},{"minimum":2}]}`, []string{`"a"`, `3`, `1`}, true},
		{`{"oneOf":[{"type":"integer"},{"minimum":2}]}`, []string{`1`, `2.5`, `3`, `"a"`}, false},
		{`{"not":{"type":"string"}}`, []string{`1`, `"a"`}, false},
		{`{"allOf":[{"minimum":1},{"maximum":2}],"if":{"const":2},"then":{"multipleOf":2},"else":{"maximum":1}}`,
			[]string{`1`, `2`, `1.5`, `0`}, true},
		{`{"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"type":"integer"}},"properties":{"x":{"$ref":"#/$defs/a"},"self":{"$ref":"#"}}}`,
			[]string{`{"x":1}`, `{"x":"a"}`, `{"self":{"x":"a"}}`, `{"self":{"self":{"x":2}}}`}, true},
		{`{"const":{"a":[1,2]}}`, []string{`{"a":[1,2]}`, `{"a":[1.0,2]}`, `{"a":[2,1]}`}, true},
		{`{"enum":[null,true,"a",1]}`, []string{`null`, `true`, `false`, `"a"`, `1.0`, `2`}, true},
		{`{"format":"date"}`, []string{`"2024-02-29"`, `"2025-02-29"`, `"2025-1-01"`, `1`}, true},
		{`{"format":"time"}`, []string{`"23:59:60Z"`, `"12:00:00+01:00"`, `"23:59:60+01:00"`, `"00:59:60+01:00"`, `"12:00:00"`}, true},
		{`{"properties":{"a/b":{"type":"string"},"c~d":false}}`, []string{`{"a/b":1}`, `{"c~d":1}`}, true},
		{`true`, []string{`1`, `{}`}, true},
		{`false`, []string{`1`}, true},
	}
	for i, tc := range cases {
		uri := fmt.Sprintf("https://natsfn.dev/test/%d.json", i)
		doc, err := decodeJSON([]byte(tc.schema))
		if err != nil {
			t.Fatal(err)
		}
		ours, err := compileSchema(uri, doc)
		if err != nil {
			t.Fatalf("%s: %v", tc.schema, err)
		}
		refDoc, _ := jsonschema.UnmarshalJSON(strings.NewReader(tc.schema))
		ref := compileReference(t, uri, refDoc)
		for _, d := range tc.docs {
			want, got := ref.verdict([]byte(d)), ourVerdict(ours, []byte(d))
			if (got == "") != (want == "") || (tc.sameMessage && got != want) {
				t.Errorf("%s against %s:\n got: %q\nwant: %q", d, tc.schema, got, want)
			}
		}
	}
}

// TestValidatorRefusesWhatItDoesNotKnow: a schema beyond the subset fails
// to compile, naming the keyword and where it is, rather than validating
// less than it says.
func TestValidatorRefusesWhatItDoesNotKnow(t *testing.T) {
	cases := map[string]string{
		`{"properties":{"a":{"maxLenght":3}}}`: `at '#/properties/a/maxLenght': keyword "maxLenght" is not supported`,
		`{"unevaluatedProperties":false}`:      `keyword "unevaluatedProperties" is not supported`,
		`{"format":"email"}`:                   `format "email" is not supported`,
		`{"$ref":"other.json#/a"}`:             `only references within the same document`,
		`{"$ref":"#/$defs/missing"}`:           `no such place in the document`,
		`{"$ref":"#"}`:                         `a $ref cycle`,
		`{"$defs":{"a":{"allOf":[{"$ref":"#/$defs/a"}]}},"$ref":"#/$defs/a"}`: `a $ref cycle`,
		`{"type":"text"}`:                 `"text" is not a JSON type`,
		`{"minLength":-1}`:                `must be a non-negative integer`,
		`{"pattern":"("}`:                 `at '#/pattern'`,
		`{"multipleOf":0}`:                `must be greater than 0`,
		`{"minContains":1}`:               `need contains`,
		`{"$defs":{"unused":{"type":1}}}`: `at '#/$defs/unused/type'`,
		`[]`:                              `a schema must be an object or a boolean`,
	}
	for schema, want := range cases {
		doc, err := decodeJSON([]byte(schema))
		if err != nil {
			t.Fatal(err)
		}
		_, err = compileSchema("https://natsfn.dev/test.json", doc)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err %v, want one containing %q", schema, err, want)
		}
	}
	// A document's own $id may name it in a $ref.
	doc, _ := decodeJSON([]byte(`{"$defs":{"a":{"type":"string"}},"$ref":"https://natsfn.dev/test.json#/$defs/a"}`))
	n, err := compileSchema("https://natsfn.dev/test.json", doc)
	if err != nil {
		t.Fatal(err)
	}
	if got := ourVerdict(n, []byte(`1`)); got != "at document root: must be string, got number" {
		t.Errorf("absolute $ref: %q", got)
	}
}

// FuzzValidator checks any document against every contract schema with
// both validators. `go test -fuzz FuzzValidator ./contracts/` searches;
// make test runs the seeds, the contracts' examples.
func FuzzValidator(f *testing.F) {
	versions := contractVersions(f)
	for i, cv := range versions {
		for _, ex := range cv.examples {
			f.Add(uint8(i), ex)
		}
	}
	dateTime := compileReference(f, "https://natsfn.dev/test/date-time.json", map[string]any{"format": "date-time"})
	f.Fuzz(func(t *testing.T, which uint8, doc []byte) {
		cv := versions[int(which)%len(versions)]
		if signedTimeDigits(dateTime, doc) {
			return // the one known difference, TestValidatorStricterOnSignedDigits
		}
		if want, got := cv.refStrict.verdict(doc), ourVerdict(cv.strict, doc); got != want {
			t.Errorf("%s strict: %q\n got: %q\nwant: %q", cv.name, doc, got, want)
		}
		if want, got := cv.refLenient.verdict(doc), ourVerdict(cv.lenient, doc); got != want {
			t.Errorf("%s lenient: %q\n got: %q\nwant: %q", cv.name, doc, got, want)
		}
	})
}

// TestValidatorStricterOnSignedDigits pins where the two differ: the
// reference reads a time's fields with strconv.Atoi, which takes a sign,
// so it accepts an hour of "+1"; RFC 3339 wants two digits, and so does
// the package. If the reference changes, this fails, and the exception in
// FuzzValidator can go.
func TestValidatorStricterOnSignedDigits(t *testing.T) {
	ref := compileReference(t, "https://natsfn.dev/test/date-time.json", map[string]any{"format": "date-time"})
	for _, s := range []string{"2025-11-26T+1:00:00Z", "2025-11-26T10:-0:00Z", "2025-11-26T10:00:+0Z"} {
		doc := []byte(strconv.Quote(s))
		if got := ref.verdict(doc); got != "" {
			t.Errorf("reference refuses %s now (%s): drop the exception", s, got)
		}
		if isDateTime(s) {
			t.Errorf("isDateTime(%q) = true, want false", s)
		}
		if !signedTimeDigits(ref, doc) {
			t.Errorf("signedTimeDigits misses %s", s)
		}
	}
}

// signedTimeDigits reports whether doc holds a string that only the
// reference takes for a date-time, a sign among its time's digits.
func signedTimeDigits(ref reference, doc []byte) bool {
	v, err := decodeJSON(doc)
	if err != nil {
		return false
	}
	found := false
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			if len(v) >= 19 && strings.ContainsAny(v[11:19], "+-") && !isDateTime(v) &&
				ref.verdict([]byte(strconv.Quote(v))) == "" {
				found = true
			}
		case map[string]any:
			for _, sub := range v {
				walk(sub)
			}
		case []any:
			for _, sub := range v {
				walk(sub)
			}
		}
	}
	walk(v)
	return found
}

// TestNoSchemaLibraryInFunctions: the functions' binaries link no JSON
// Schema library, whose init is what this validator saves a cold start.
func TestNoSchemaLibraryInFunctions(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "../functions/cmd/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "jsonschema") || strings.HasPrefix(dep, "golang.org/x/text/") {
			t.Errorf("a function links %s", dep)
		}
	}
}

// BenchmarkValidatorAgainstReference validates the same event, decoding
// included, with the package's validator and with the reference library:
// go test -run '^$' -bench ValidatorAgainstReference -count 6 ./contracts/
func BenchmarkValidatorAgainstReference(b *testing.B) {
	doc := []byte(`{"order_id":"0b6f3c2e-8d1a-4f59-9c3e-5a7d2b1e4f60","items":[{"product_id":"sku-1","quantity":2,"unit_price_cents":1999},{"product_id":"sku-2","quantity":1,"unit_price_cents":4999},{"product_id":"sku-3","quantity":5,"unit_price_cents":999}],"total_cents":13992}`)
	ours, err := inventoryReservedV1.strict()
	if err != nil {
		b.Fatal(err)
	}
	refDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(inventoryReservedV1.raw))
	if err != nil {
		b.Fatal(err)
	}
	ref := compileReference(b, inventoryReservedV1.uri, refDoc)
	b.Run("natsfn", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if v := ourVerdict(ours, doc); v != "" {
				b.Fatal(v)
			}
		}
	})
	b.Run("reference", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if v := ref.verdict(doc); v != "" {
				b.Fatal(v)
			}
		}
	})
}
