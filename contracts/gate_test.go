package contracts

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The compatibility gate. Every version of every schema lives in
// schemas/<name>/<major>.<minor>.json, with examples of its documents in
// examples/<name>/<major>.<minor>/*.json; testdata/released.json keeps the
// constraints of every version once it is released. The gate holds that:
//
//   - every example validates against its own version, and decodes into
//     the major's Go type and encodes back without losing anything;
//   - the examples show every optional property, and its absence;
//   - a new minor only adds optional properties, accepts every example of
//     the minor before it, and that minor's reader (lenient, as
//     Event.ValidateReceived is) accepts every example of the new one;
//   - a released version never changes, save its annotations.
//
// A breaking change is a new major, on its own subject: the gate names
// the property that breaks, so the author knows what to move.

// releasedFile is where the released versions' constraints are kept.
const releasedFile = "testdata/released.json"

var release = flag.Bool("release", false, "add the versions that are not released yet to "+releasedFile)

func TestCompatibilityGate(t *testing.T) {
	fsys := os.DirFS(".")
	released, err := readReleased(fsys)
	if err != nil {
		t.Fatal(err)
	}
	if *release {
		if released, err = releaseNew(fsys, released); err != nil {
			t.Fatal(err)
		}
	}
	breaches := gate(fsys, released)
	for _, b := range breaches {
		t.Error(b)
	}
	if len(breaches) > 0 {
		t.Log("A minor version may only add optional properties; any other change is a new major on its own subject " +
			"(see contracts/README.md). A new version is released with: go test ./contracts -run TestCompatibilityGate -release")
	}
}

// example is one stored example document.
type example struct {
	file string
	doc  any
	raw  []byte
}

// gateVersion is one version with its examples, as the gate sees it.
type gateVersion struct {
	s        *Schema
	file     string
	doc      any
	examples []example
}

func (v *gateVersion) key() string { return v.s.name + " " + v.s.version }

// gate checks the contracts in fsys against the released versions and
// returns every breach, one line each, naming the file and the property.
func gate(fsys fs.FS, released map[string]json.RawMessage) []string {
	var out []string
	fail := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	majors, err := gateMajors(fsys)
	if err != nil {
		return []string{err.Error()}
	}
	seen := map[string]bool{}
	for _, m := range majors {
		var goType reflect.Type
		if s, ok := Lookup(m.name + ".v" + strconv.Itoa(m.major)); ok {
			goType = s.goType
		} else {
			fail("schemas/%s/%d.*.json: no Go type is declared for %s.v%d (declare it in schemas.go)", m.name, m.major, m.name, m.major)
		}
		minors, err := loadMajor(fsys, m.name, m.major, goType)
		if err != nil {
			fail("%v", err)
			continue
		}
		var prev *gateVersion
		for _, s := range minors {
			v, errs := loadGateVersion(fsys, s)
			out = append(out, errs...)
			if v == nil {
				continue
			}
			seen[v.key()] = true
			out = append(out, checkExamples(v, isEvent(s.name))...)
			if r, ok := released[v.key()]; ok {
				out = append(out, checkReleased(v, r)...)
			} else {
				fail("%s: %s is not released: once it is final, release it with -release (see TestCompatibilityGate)", v.file, v.key())
			}
			if prev != nil {
				out = append(out, checkMinor(prev, v)...)
			}
			prev = v
		}
	}
	for _, key := range slices.Sorted(maps.Keys(released)) {
		if !seen[key] {
			fail("%s: released %s has no schema file; a released version stays until no one produces it", releasedFile, key)
		}
	}
	out = append(out, strayExamples(fsys, seen)...)
	return out
}

type gateMajor struct {
	name  string
	major int
}

// gateMajors lists the majors that have files, in order.
func gateMajors(fsys fs.FS) ([]gateMajor, error) {
	files, err := fs.Glob(fsys, "schemas/*/*.json")
	if err != nil {
		return nil, err
	}
	var out []gateMajor
	for _, f := range files {
		major, _, ok := parseVersionFile(path.Base(f))
		if !ok {
			return nil, fmt.Errorf("%s: not named <major>.<minor>.json", f)
		}
		m := gateMajor{path.Base(path.Dir(f)), major}
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out, nil
}

// loadGateVersion compiles a version and reads its examples.
func loadGateVersion(fsys fs.FS, s *Schema) (*gateVersion, []string) {
	v := &gateVersion{s: s, file: "schemas/" + s.name + "/" + s.version + ".json"}
	var errs []string
	for _, form := range []func() (any, error){
		func() (any, error) { return s.strict() },
		func() (any, error) { return s.lenient() },
	} {
		if _, err := form(); err != nil {
			return nil, []string{fmt.Sprintf("%s: %v", v.file, err)}
		}
	}
	var err error
	if v.doc, err = decodeJSON(s.raw); err != nil {
		return nil, []string{fmt.Sprintf("%s: %v", v.file, err)}
	}
	dir := "examples/" + s.name + "/" + s.version
	files, _ := fs.Glob(fsys, dir+"/*.json")
	for _, f := range files {
		raw, err := fs.ReadFile(fsys, f)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		doc, err := decodeJSON(raw)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", f, err))
			continue
		}
		v.examples = append(v.examples, example{file: f, doc: doc, raw: raw})
	}
	return v, errs
}

// checkExamples checks one version's own examples.
func checkExamples(v *gateVersion, event bool) []string {
	var out []string
	want := 1
	if event {
		want = 2
	}
	if len(v.examples) < want {
		out = append(out, fmt.Sprintf("examples/%s/%s: %d examples; a version needs at least %d, edge cases included",
			v.s.name, v.s.version, len(v.examples), want))
	}
	docs := make([]any, len(v.examples))
	for i, ex := range v.examples {
		docs[i] = ex.doc
		if err := v.s.Validate(ex.raw); err != nil {
			out = append(out, fmt.Sprintf("%s: refused by its own version %s: %v", ex.file, v.s.version, err))
			continue
		}
		if v.s.goType != nil {
			if err := roundTrip(v.s.goType, ex.raw); err != nil {
				out = append(out, fmt.Sprintf("%s: %v", ex.file, err))
			}
		}
	}
	if len(v.examples) > 0 {
		for _, gap := range uncovered(v.doc, docs) {
			out = append(out, fmt.Sprintf("examples/%s/%s: %s", v.s.name, v.s.version, gap))
		}
	}
	return out
}

// checkMinor checks a minor against the one before it.
func checkMinor(prev, next *gateVersion) []string {
	var out []string
	for _, d := range diffSchemas(constraints(prev.doc), constraints(next.doc), true) {
		out = append(out, fmt.Sprintf("%s breaks %s: %s", next.file, prev.s.version, d))
	}
	for _, ex := range prev.examples {
		if err := next.s.Validate(ex.raw); err != nil {
			out = append(out, fmt.Sprintf("%s: refused by the next minor %s: %v", ex.file, next.s.version, err))
		}
	}
	lenient, err := prev.s.lenient()
	if err != nil {
		return append(out, err.Error())
	}
	for _, ex := range next.examples {
		if err := validateWith(prev.s.id, lenient, ex.raw); err != nil {
			out = append(out, fmt.Sprintf("%s: refused by a reader of %s: %v", ex.file, prev.s.version, err))
		}
	}
	return out
}

// checkReleased checks that a released version kept its constraints.
func checkReleased(v *gateVersion, released json.RawMessage) []string {
	was, err := decodeJSON(released)
	if err != nil {
		return []string{fmt.Sprintf("%s: %s: %v", releasedFile, v.key(), err)}
	}
	var out []string
	for _, d := range diffSchemas(was, constraints(v.doc), false) {
		out = append(out, fmt.Sprintf("%s changes released %s: %s", v.file, v.key(), d))
	}
	return out
}

// strayExamples reports example directories of versions that do not exist.
func strayExamples(fsys fs.FS, versions map[string]bool) []string {
	dirs, _ := fs.Glob(fsys, "examples/*/*")
	var out []string
	for _, d := range dirs {
		if key := path.Base(path.Dir(d)) + " " + path.Base(d); !versions[key] {
			out = append(out, fmt.Sprintf("%s: no schema %s", d, key))
		}
	}
	return out
}

// roundTrip decodes doc into a value of type t and encodes it again; it
// reports what the Go type does not hold, or holds differently.
func roundTrip(t reflect.Type, doc []byte) error {
	v := reflect.New(t)
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v.Interface()); err != nil {
		if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			return fmt.Errorf("decoding into %s loses %s: the Go type has no field for it", t, name)
		}
		return fmt.Errorf("decoding into %s: %w", t, err)
	}
	back, err := json.Marshal(v.Interface())
	if err != nil {
		return fmt.Errorf("encoding %s: %w", t, err)
	}
	want, _ := decodeJSON(doc)
	got, _ := decodeJSON(back)
	if at, ok := firstDifference("", want, got); ok {
		return fmt.Errorf("decoding into %s and back changes '%s': %s", t, at.path, at.what)
	}
	return nil
}

type difference struct{ path, what string }

// firstDifference finds where two JSON values differ.
func firstDifference(at string, a, b any) (difference, bool) {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok {
			break
		}
		for _, k := range slices.Sorted(maps.Keys(a)) {
			bv, ok := bm[k]
			if !ok {
				return difference{at + "/" + escapeToken(k), "it is gone"}, true
			}
			if d, ok := firstDifference(at+"/"+escapeToken(k), a[k], bv); ok {
				return d, true
			}
		}
		for _, k := range slices.Sorted(maps.Keys(bm)) {
			if _, ok := a[k]; !ok {
				return difference{at + "/" + escapeToken(k), "it appears"}, true
			}
		}
		return difference{}, false
	case []any:
		bl, ok := b.([]any)
		if !ok || len(bl) != len(a) {
			break
		}
		for i := range a {
			if d, ok := firstDifference(at+"/"+strconv.Itoa(i), a[i], bl[i]); ok {
				return d, true
			}
		}
		return difference{}, false
	}
	if reflect.DeepEqual(a, b) {
		return difference{}, false
	}
	return difference{at, compact(a) + " comes back as " + compact(b)}, true
}

// isEvent reports whether name is the name of an event family.
func isEvent(name string) bool {
	_, ok := families[name]
	return ok
}

// readReleased reads testdata/released.json: for each released version
// ("orders.created 1.0"), its constraints.
func readReleased(fsys fs.FS) (map[string]json.RawMessage, error) {
	raw, err := fs.ReadFile(fsys, releasedFile)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]json.RawMessage{}, nil
	}
	if err != nil {
		return nil, err
	}
	var out map[string]json.RawMessage
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", releasedFile, err)
	}
	return out, nil
}

// releaseNew adds every version that is not released yet to
// testdata/released.json, and never changes one that is.
func releaseNew(fsys fs.FS, released map[string]json.RawMessage) (map[string]json.RawMessage, error) {
	majors, err := gateMajors(fsys)
	if err != nil {
		return nil, err
	}
	for _, m := range majors {
		minors, err := loadMajor(fsys, m.name, m.major, nil)
		if err != nil {
			return nil, err
		}
		for _, s := range minors {
			key := s.name + " " + s.version
			if _, ok := released[key]; ok {
				continue
			}
			doc, err := decodeJSON(s.raw)
			if err != nil {
				return nil, err
			}
			b, err := json.Marshal(constraints(doc))
			if err != nil {
				return nil, err
			}
			released[key] = b
		}
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
	if err := os.WriteFile(releasedFile, buf.Bytes(), 0o644); err != nil {
		return nil, err
	}
	return released, nil
}
