package contracts

import (
	"io/fs"
	"path"
	"strconv"
	"testing"
)

// Every embedded file is a minor of a listed major, and every listed
// major holds all its files.
func TestEmbeddedFilesAreListed(t *testing.T) {
	listed := map[string]*Schema{}
	files := 0
	for _, s := range Schemas() {
		if listed[s.ID()] != nil {
			t.Errorf("schema %s is listed twice", s.ID())
		}
		listed[s.ID()] = s
		files += len(s.minors)
		if s.minors[len(s.minors)-1] != s {
			t.Errorf("%s: the listed schema is %s, not the latest minor", s.ID(), s.Version())
		}
	}
	embedded, err := fs.Glob(schemaFiles, "schemas/*/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(embedded) != files {
		t.Errorf("%d embedded files, %d listed versions", len(embedded), files)
	}
	for _, file := range embedded {
		name := path.Base(path.Dir(file))
		major, minor, ok := parseVersionFile(path.Base(file))
		if !ok {
			t.Errorf("%s: not named <major>.<minor>.json", file)
			continue
		}
		s := listed[name+".v"+strconv.Itoa(major)]
		if s == nil || minor > s.minor {
			t.Errorf("%s is embedded but missing from Schemas()", file)
		}
	}
}

func TestLookup(t *testing.T) {
	for _, s := range Schemas() {
		got, ok := Lookup(s.ID())
		if !ok || got != s {
			t.Errorf("Lookup(%q) = %v, %v", s.ID(), got, ok)
		}
		for _, m := range s.minors {
			if got, ok := Lookup(m.URI()); !ok || got != m || got.Version() != m.version {
				t.Errorf("Lookup(%q) = %v, %v", m.URI(), got, ok)
			}
		}
	}
	if s, ok := Lookup(schemaURI("orders.created", 1, 99)); ok || s != nil {
		t.Errorf("Lookup of an unknown minor = %v, %v", s, ok)
	}
	if s, ok := Lookup("orders.create.request.v0"); ok || s != nil {
		t.Errorf("Lookup of an unknown id = %v, %v", s, ok)
	}
}

// The schemas compile on first use; this is the first use of every
// version, strict and lenient, so that none can fail in production.
func TestEveryVersionCompiles(t *testing.T) {
	for _, s := range Schemas() {
		for _, m := range s.minors {
			if _, err := m.strict(); err != nil {
				t.Errorf("%s %s: %v", m.name, m.version, err)
			}
			if _, err := m.lenient(); err != nil {
				t.Errorf("%s %s lenient: %v", m.name, m.version, err)
			}
		}
	}
}
