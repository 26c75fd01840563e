package contracts

import (
	"fmt"
	"io/fs"
	"path"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// schemaBaseURL prefixes every schema URI.
const schemaBaseURL = "https://natsfn.dev/schemas/"

// schemaURI names one exact version: the file schemas/<name>/<major>.<minor>.json
// under schemaBaseURL.
func schemaURI(name string, major, minor int) string {
	return schemaBaseURL + name + "/" + strconv.Itoa(major) + "." + strconv.Itoa(minor) + ".json"
}

// parseSchemaURI splits a URI made by schemaURI.
func parseSchemaURI(uri string) (name string, major, minor int, ok bool) {
	rest, ok := strings.CutPrefix(uri, schemaBaseURL)
	if !ok {
		return "", 0, 0, false
	}
	name, file, ok := strings.Cut(rest, "/")
	if !ok || name == "" {
		return "", 0, 0, false
	}
	major, minor, ok = parseVersionFile(file)
	return name, major, minor, ok
}

// parseVersionFile reads "<major>.<minor>.json": a major of 1 or more and
// a minor of 0 or more, both without leading zeros, so that one version
// has one spelling.
func parseVersionFile(file string) (major, minor int, ok bool) {
	v, ok := strings.CutSuffix(file, ".json")
	if !ok {
		return 0, 0, false
	}
	ma, mi, ok := strings.Cut(v, ".")
	if !ok {
		return 0, 0, false
	}
	major, okMa := versionNumber(ma)
	minor, okMi := versionNumber(mi)
	return major, minor, okMa && okMi && major >= 1
}

func versionNumber(s string) (int, bool) {
	if s == "" || len(s) > 4 || (len(s) > 1 && s[0] == '0') {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 0
}

// splitID splits a major's id, "orders.created.v1", into its name and
// major.
func splitID(id string) (name string, major int, ok bool) {
	i := strings.LastIndex(id, ".v")
	if i <= 0 {
		return "", 0, false
	}
	major, ok = versionNumber(id[i+2:])
	return id[:i], major, ok && major >= 1
}

// loadMajor reads every minor of one major from fsys, which holds
// schemas/<name>/<major>.<minor>.json, and returns them oldest first. The
// minors must run from 0 without a gap, and each file must be JSON whose
// "$id" and "title" name its version.
func loadMajor(fsys fs.FS, name string, major int, goType reflect.Type) ([]*Schema, error) {
	minors, err := listMajor(fsys, name, major, goType)
	if err != nil {
		return nil, err
	}
	for _, s := range minors {
		if _, err := s.doc(); err != nil {
			return nil, fmt.Errorf("%s: %w", path.Join("schemas", name, s.version+".json"), err)
		}
	}
	return minors, nil
}

// listMajor is loadMajor without reading the files' content, which is
// checked on first use: what a program's init does (declare).
func listMajor(fsys fs.FS, name string, major int, goType reflect.Type) ([]*Schema, error) {
	files, err := fs.Glob(fsys, path.Join("schemas", name, strconv.Itoa(major)+".*.json"))
	if err != nil {
		return nil, err
	}
	var minors []*Schema
	for _, file := range files {
		ma, mi, ok := parseVersionFile(path.Base(file))
		if !ok || ma != major {
			return nil, fmt.Errorf("%s: not named <major>.<minor>.json", file)
		}
		raw, err := fs.ReadFile(fsys, file)
		if err != nil {
			return nil, err
		}
		minors = append(minors, newSchema(name, major, mi, raw, goType))
	}
	if len(minors) == 0 {
		return nil, fmt.Errorf("no schema %s/%d.*.json", name, major)
	}
	slices.SortFunc(minors, func(a, b *Schema) int { return a.minor - b.minor })
	for i, s := range minors {
		if s.minor != i {
			return nil, fmt.Errorf("%s has no version %d.%d before %s", name, major, i, s.version)
		}
		s.minors = minors
	}
	return minors, nil
}

// declare lists the embedded minors of the major named by id, such as
// "orders.created.v1", whose documents decode into T, and returns the
// latest; each is read and compiled on first use. The files ship inside
// the binary and the tests load and compile every one (TestEveryVersionCompiles,
// TestCompatibilityGate), so a failure is a programming error, not bad
// input.
func declare[T any](id string) *Schema {
	name, major, ok := splitID(id)
	if !ok {
		panic("contracts: bad schema id " + id)
	}
	minors, err := listMajor(schemaFiles, name, major, reflect.TypeFor[T]())
	if err != nil {
		panic("contracts: schema " + id + ": " + err.Error())
	}
	return minors[len(minors)-1]
}
