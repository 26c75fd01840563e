package contracts

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "write "+asyncAPIFile+" (make docs)")

// The committed document is the one the contracts generate now; `make
// docs` writes it.
func TestAsyncAPIDocument(t *testing.T) {
	got, err := asyncAPI("examples")
	if err != nil {
		t.Fatal(err)
	}
	again, err := asyncAPI("examples")
	if err != nil || !bytes.Equal(got, again) {
		t.Fatalf("two generations differ (%v)", err)
	}
	if *update {
		if err := os.WriteFile(asyncAPIFile, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	committed, err := os.ReadFile(asyncAPIFile)
	if err != nil {
		t.Fatalf("%v: run make docs", err)
	}
	if !bytes.Equal(committed, got) {
		t.Fatalf("contracts/%s is not what contracts/ generates now: run make docs", asyncAPIFile)
	}
}

// asyncAPIDoc reads the committed document as JSON values.
func asyncAPIDoc(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(asyncAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	j, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(j, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// Every event subject and every request subject has its channel and
// operations, and every message's payload says what its schema says.
func TestAsyncAPICoversTheContracts(t *testing.T) {
	doc := asyncAPIDoc(t)
	channels := doc["channels"].(map[string]any)
	operations := doc["operations"].(map[string]any)
	messages := doc["components"].(map[string]any)["messages"].(map[string]any)
	for _, ev := range Events() {
		ch, ok := channels[ev.Subject()].(map[string]any)
		if !ok || ch["address"] != ev.Subject() {
			t.Errorf("no channel for %s", ev.Subject())
		}
		for op, action := range map[string]string{".publish": "send", ".consume": "receive"} {
			o, ok := operations[ev.Subject()+op].(map[string]any)
			if !ok || o["action"] != action {
				t.Errorf("no %s operation on %s", action, ev.Subject())
			}
		}
		checkPayload(t, messages, ev.schema)
	}
	for _, ep := range endpoints {
		if ch, ok := channels[ep.subject].(map[string]any); !ok || ch["address"] != ep.subject {
			t.Errorf("no channel for %s", ep.subject)
		}
		o, ok := operations[ep.subject].(map[string]any)
		if !ok || o["action"] != "receive" || o["reply"] == nil {
			t.Errorf("no request/reply operation on %s: %v", ep.subject, o)
		}
		checkPayload(t, messages, ep.request)
		checkPayload(t, messages, ep.reply)
	}
}

// checkPayload compares a message's payload with its schema's
// constraints, $defs inlined.
func checkPayload(t *testing.T, messages map[string]any, s *Schema) {
	t.Helper()
	msg, ok := messages[s.ID()].(map[string]any)
	if !ok {
		t.Errorf("no message %s", s.ID())
		return
	}
	want, err := payloadSchema(s)
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(s.raw, &raw); err != nil {
		t.Fatal(err)
	}
	if d := diffSchemas(constraints(jsonRoundTrip(t, raw)), constraints(jsonRoundTrip(t, msg["payload"])), false); len(d) > 0 {
		t.Errorf("%s: the payload differs from the schema: %v", s.ID(), d)
	}
	if !reflect.DeepEqual(jsonRoundTrip(t, want), jsonRoundTrip(t, msg["payload"])) {
		t.Errorf("%s: the payload is not the schema", s.ID())
	}
}

func jsonRoundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := decodeJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every "$ref" of the document points at something in it: the official
// schema checks the shape of a reference, not its target.
func TestAsyncAPIRefsResolve(t *testing.T) {
	doc := asyncAPIDoc(t)
	var walk func(at string, v any)
	count := 0
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["$ref"].(string); ok {
				count++
				if _, ok := pointerGet(doc, r); !ok {
					t.Errorf("%s: $ref %s points at nothing", at, r)
				}
			}
			for k, sub := range v {
				walk(at+"/"+k, sub)
			}
		case []any:
			for _, sub := range v {
				walk(at, sub)
			}
		}
	}
	walk("", doc)
	if count < 50 {
		t.Errorf("only %d references", count)
	}
}

func pointerGet(doc any, ref string) (any, bool) {
	p, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	cur := doc
	for _, tok := range strings.Split(p, "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[tok]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// endpoints pairs every request and reply schema with a subject.
func TestEndpointsCoverRequests(t *testing.T) {
	used := map[*Schema]bool{}
	var subjects []string
	for _, ep := range endpoints {
		used[ep.request], used[ep.reply] = true, true
		subjects = append(subjects, ep.subject)
	}
	for _, s := range Schemas() {
		if !isEvent(s.name) && !used[s] {
			t.Errorf("%s is in no endpoint of the AsyncAPI document", s.ID())
		}
	}
	for _, subj := range []string{SubjectOrdersCreate, SubjectOrdersGet, SubjectOrdersCancel, SubjectInventoryStockGet,
		SubjectInventoryStockSet, SubjectPaymentsGatewayGet, SubjectPaymentsGatewaySet} {
		if !slices.Contains(subjects, subj) {
			t.Errorf("request subject %s is in no endpoint", subj)
		}
	}
}
