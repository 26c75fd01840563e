package scaffold

import (
	"errors"
	"strings"
	"testing"
)

func TestConstraints(t *testing.T) {
	schema := `{"$schema":"s","$id":"i","title":"t","description":"d","type":"object",
		"properties":{"title":{"type":"string","description":"a property named title stays","maxLength":10},
		"kind":{"enum":[{"title":"data, not a keyword"}],"examples":["x"]}},
		"items":{"description":"x","minimum":1.50}}`
	got, err := constraints([]byte(schema))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"items":{"minimum":1.50},"properties":{"kind":{"enum":[{"title":"data, not a keyword"}]},"title":{"maxLength":10,"type":"string"}},"type":"object"}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestRelease(t *testing.T) {
	current := []byte("{\n  \"b 1.0\": {\"type\":\"object\"},\n  \"z 1.0\": {\"type\":\"string\"}\n}\n")
	schemas := []file{{path: "contracts/schemas/greet.hello.request/1.0.json", data: []byte(`{"title":"t","type":"object"}`)}}
	got, err := release(current, schemas)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"b 1.0\": {\"type\":\"object\"},\n  \"greet.hello.request 1.0\": {\"type\":\"object\"},\n  \"z 1.0\": {\"type\":\"string\"}\n}\n"
	if string(got) != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if _, err := release(got, schemas); !errors.Is(err, ErrName) || !strings.Contains(err.Error(), "already releases greet.hello.request 1.0") {
		t.Fatalf("released twice: %v", err)
	}
	if _, err := release([]byte("{"), schemas); err == nil {
		t.Fatal("a broken released.json was accepted")
	}
}
