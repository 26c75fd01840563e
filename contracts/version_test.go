package contracts

import (
	"reflect"
	"strings"
	"testing"
	"testing/fstest"
)

func TestSchemaURI(t *testing.T) {
	for _, s := range Schemas() {
		for _, m := range s.minors {
			name, major, minor, ok := parseSchemaURI(m.uri)
			if !ok || name != m.name || major != m.major || minor != m.minor {
				t.Errorf("parse %s = %s %d.%d %v", m.uri, name, major, minor, ok)
			}
		}
	}
	for _, bad := range []string{
		"", "orders.created.v1", "https://natsfn.dev/schemas/orders.created/1.json",
		"https://natsfn.dev/schemas/orders.created/0.1.json", "https://natsfn.dev/schemas/orders.created/01.1.json",
		"https://natsfn.dev/schemas/orders.created/1.01.json", "https://natsfn.dev/schemas/orders.created/1.1",
		"https://natsfn.dev/schemas//1.1.json", "https://natsfn.dev/schemas/orders.created/x.1.json",
		"http://natsfn.dev/schemas/orders.created/1.1.json", "https://natsfn.dev/schemas/orders.created/1.-1.json",
	} {
		if name, major, minor, ok := parseSchemaURI(bad); ok {
			t.Errorf("parsed %q as %s %d.%d", bad, name, major, minor)
		}
	}
}

func TestSplitID(t *testing.T) {
	name, major, ok := splitID("inventory.reserved.v2")
	if !ok || name != "inventory.reserved" || major != 2 {
		t.Errorf("got %s %d %v", name, major, ok)
	}
	for _, bad := range []string{"inventory.reserved", ".v1", "x.v0", "x.v", "x.vone"} {
		if _, _, ok := splitID(bad); ok {
			t.Errorf("split %q", bad)
		}
	}
}

func schemaFile(name, version string) *fstest.MapFile {
	return &fstest.MapFile{Data: []byte(`{"$schema":"https://json-schema.org/draft/2020-12/schema",` +
		`"$id":"https://natsfn.dev/schemas/` + name + `/` + version + `.json","title":"` + name + ` ` + version + `","type":"object"}`)}
}

// loadMajor refuses a set of files that does not say plainly which version
// each is.
func TestLoadMajorRefuses(t *testing.T) {
	typ := reflect.TypeFor[struct{}]()
	ok := fstest.MapFS{"schemas/x/1.0.json": schemaFile("x", "1.0"), "schemas/x/1.1.json": schemaFile("x", "1.1")}
	minors, err := loadMajor(ok, "x", 1, typ)
	if err != nil || len(minors) != 2 || minors[1].version != "1.1" || &minors[0].minors[0] != &minors[1].minors[0] {
		t.Fatalf("good files: %v, %v", minors, err)
	}
	tests := []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{"no file", fstest.MapFS{}, "no schema x/1.*.json"},
		{"a gap", fstest.MapFS{"schemas/x/1.0.json": schemaFile("x", "1.0"), "schemas/x/1.2.json": schemaFile("x", "1.2")},
			"x has no version 1.1 before 1.2"},
		{"no x.0", fstest.MapFS{"schemas/x/1.1.json": schemaFile("x", "1.1")}, "x has no version 1.0 before 1.1"},
		{"a leading zero", fstest.MapFS{"schemas/x/1.0.json": schemaFile("x", "1.0"), "schemas/x/1.01.json": schemaFile("x", "1.01")},
			"schemas/x/1.01.json: not named <major>.<minor>.json"},
		{"$id of another version", fstest.MapFS{"schemas/x/1.0.json": schemaFile("x", "1.1")},
			`schemas/x/1.0.json: $id is "https://natsfn.dev/schemas/x/1.1.json", want "https://natsfn.dev/schemas/x/1.0.json"`},
		{"title of another schema", fstest.MapFS{"schemas/x/1.0.json": {Data: []byte(strings.Replace(string(schemaFile("x", "1.0").Data), `"x 1.0"`, `"y 1.0"`, 1))}},
			`schemas/x/1.0.json: title is "y 1.0", want "x 1.0"`},
		{"not JSON", fstest.MapFS{"schemas/x/1.0.json": {Data: []byte(`{`)}}, "schemas/x/1.0.json: unexpected EOF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadMajor(tc.fsys, "x", 1, typ)
			if err == nil || err.Error() != tc.want {
				t.Errorf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}

// Leniency opens closed objects and nothing else: a property that happens
// to be called additionalProperties keeps its schema.
func TestWithoutClosedObjects(t *testing.T) {
	in := map[string]any{
		"additionalProperties": false,
		"properties": map[string]any{
			"additionalProperties": false,
			"items":                map[string]any{"type": "array", "items": map[string]any{"additionalProperties": false, "type": "object"}},
		},
		"allOf":  []any{map[string]any{"unevaluatedProperties": false}},
		"$defs":  map[string]any{"m": map[string]any{"additionalProperties": map[string]any{"type": "string"}}},
		"enum":   []any{map[string]any{"additionalProperties": false}},
		"not":    true,
		"format": "uuid",
	}
	want := map[string]any{
		"properties": map[string]any{
			"additionalProperties": false,
			"items":                map[string]any{"type": "array", "items": map[string]any{"type": "object"}},
		},
		"allOf":  []any{map[string]any{}},
		"$defs":  map[string]any{"m": map[string]any{"additionalProperties": map[string]any{"type": "string"}}},
		"enum":   []any{map[string]any{"additionalProperties": false}},
		"not":    true,
		"format": "uuid",
	}
	if got := withoutClosedObjects(in); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %v\nwant %v", got, want)
	}
	if in["additionalProperties"] != false {
		t.Error("the input was changed")
	}
}
