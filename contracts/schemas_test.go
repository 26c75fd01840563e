package contracts

import (
	"encoding/json"
	"io/fs"
	"strings"
	"testing"
)

// Every embedded file is a listed schema, and every listed schema is an
// embedded file whose $id and title match its id.
func TestEmbeddedFilesAreListed(t *testing.T) {
	listed := map[string]bool{}
	for _, s := range Schemas() {
		if listed[s.ID()] {
			t.Errorf("schema %s is listed twice", s.ID())
		}
		listed[s.ID()] = true
	}
	files, err := fs.Glob(schemaFiles, "schemas/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(listed) {
		t.Errorf("%d embedded files, %d listed schemas", len(files), len(listed))
	}
	for _, name := range files {
		id, ok := strings.CutSuffix(strings.TrimPrefix(name, "schemas/"), ".json")
		if !ok {
			t.Errorf("%s: not a .json file", name)
			continue
		}
		if !listed[id] {
			t.Errorf("%s is embedded but missing from Schemas()", name)
		}
		raw, err := schemaFiles.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			Schema string `json:"$schema"`
			ID     string `json:"$id"`
			Title  string `json:"title"`
		}
		if err := json.Unmarshal(raw, &head); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if head.Schema != "https://json-schema.org/draft/2020-12/schema" {
			t.Errorf("%s: $schema is %q, want draft 2020-12", name, head.Schema)
		}
		if head.ID != schemaBaseURL+id+".json" || head.Title != id {
			t.Errorf("%s: $id %q and title %q do not match the file name", name, head.ID, head.Title)
		}
	}
}

func TestLookup(t *testing.T) {
	for _, s := range Schemas() {
		got, ok := Lookup(s.ID())
		if !ok || got != s {
			t.Errorf("Lookup(%q) = %v, %v", s.ID(), got, ok)
		}
	}
	if s, ok := Lookup("orders.create.request.v0"); ok || s != nil {
		t.Errorf("Lookup of an unknown id = %v, %v", s, ok)
	}
}
