package contracts

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyContracts copies schemas/, examples/ and testdata/released.json into
// a temporary directory, where a test may break them.
func copyContracts(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, root := range []string{"schemas", "examples", "testdata"} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return os.MkdirAll(filepath.Join(dir, p), 0o755)
			}
			if root == "testdata" && p != releasedFile {
				return nil
			}
			raw, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(filepath.Join(dir, p), raw, 0o644)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// editJSON rewrites one JSON file of dir through edit.
func editJSON(t *testing.T, dir, file string, edit func(doc map[string]any)) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	v, err := decodeJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	doc := v.(map[string]any)
	edit(doc)
	writeJSON(t, dir, file, doc)
}

func writeJSON(t *testing.T, dir, file string, doc any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, file)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// at walks a decoded JSON document by object keys.
func at(doc map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		doc = doc[k].(map[string]any)
	}
	return doc
}

// newMinor copies orders.created 1.1 and its examples to 1.2, as an author
// starts a minor, and applies edit to the new schema.
func newMinor(t *testing.T, dir string, edit func(doc map[string]any)) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(dir, "schemas/orders.created/1.1.json"))
	if err != nil {
		t.Fatal(err)
	}
	raw = bytes.ReplaceAll(raw, []byte("1.1.json"), []byte("1.2.json"))
	raw = bytes.ReplaceAll(raw, []byte(`"orders.created 1.1"`), []byte(`"orders.created 1.2"`))
	if err := os.WriteFile(filepath.Join(dir, "schemas/orders.created/1.2.json"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	editJSON(t, dir, "schemas/orders.created/1.2.json", edit)
	examples, _ := filepath.Glob(filepath.Join(dir, "examples/orders.created/1.1/*.json"))
	for _, ex := range examples {
		raw, err := os.ReadFile(ex)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, "examples/orders.created/1.2/"+filepath.Base(ex), raw)
	}
}

func writeFile(t *testing.T, dir, file string, raw []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, file)), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, file), raw, 0o644); err != nil {
		t.Fatal(err)
	}
}

func required(doc map[string]any, names ...string) {
	for _, n := range names {
		doc["required"] = append(doc["required"].([]any), n)
	}
}

func unrequire(doc map[string]any, name string) {
	var keep []any
	for _, r := range doc["required"].([]any) {
		if r != name {
			keep = append(keep, r)
		}
	}
	doc["required"] = keep
}

// TestGateNamesBreakingEdits breaks a copy of the contracts the ways
// authors do and checks that the gate fails, naming the file and the
// property.
func TestGateNamesBreakingEdits(t *testing.T) {
	tests := []struct {
		name string
		edit func(t *testing.T, dir string)
		want []string // each must be in some breach
	}{
		{"a field made required in place", func(t *testing.T, dir string) {
			editJSON(t, dir, "schemas/orders.created/1.1.json", func(d map[string]any) { required(d, "priority") })
		}, []string{
			"schemas/orders.created/1.1.json changes released orders.created 1.1: at '/priority': made required",
			"schemas/orders.created/1.1.json breaks 1.0: at '/priority': added as required",
			"examples/orders.created/1.1/no-priority.json: refused by its own version 1.1: orders.created.v1: at '/priority': is required",
		}},
		{"a field removed in place", func(t *testing.T, dir string) {
			editJSON(t, dir, "schemas/inventory.reserved/1.0.json", func(d map[string]any) {
				item := at(d, "properties", "items", "items")
				delete(at(item, "properties"), "unit_price_cents")
				unrequire(item, "unit_price_cents")
			})
		}, []string{
			"schemas/inventory.reserved/1.0.json changes released inventory.reserved 1.0: at '/items/*/unit_price_cents': removed",
			"examples/inventory.reserved/1.0/one-item.json: refused by its own version 1.0: inventory.reserved.v1: at '/items/0/unit_price_cents': is not allowed",
		}},
		{"a field renamed in place", func(t *testing.T, dir string) {
			editJSON(t, dir, "schemas/payments.completed/1.0.json", func(d map[string]any) {
				props := at(d, "properties")
				props["amount"], props["amount_cents"] = props["amount_cents"], nil
				delete(props, "amount_cents")
				unrequire(d, "amount_cents")
				required(d, "amount")
			})
		}, []string{
			"changes released payments.completed 1.0: at '/amount_cents': removed",
			"changes released payments.completed 1.0: at '/amount': added as required",
		}},
		{"a type narrowed in place", func(t *testing.T, dir string) {
			editJSON(t, dir, "schemas/orders.created/1.0.json", func(d map[string]any) {
				at(d, "properties", "customer_id")["maxLength"] = 64
			})
		}, []string{"schemas/orders.created/1.0.json changes released orders.created 1.0: at '/customer_id': maxLength changed from 128 to 64"}},
		{"a type changed in place", func(t *testing.T, dir string) {
			editJSON(t, dir, "schemas/payments.failed/2.0.json", func(d map[string]any) {
				money := at(d, "$defs", "money", "properties")
				money["amount"] = map[string]any{"type": "string", "pattern": "^[0-9]+$"}
			})
		}, []string{
			`changes released payments.failed 2.0: at '/amount_money/amount': type changed from "integer" to "string"`,
			"examples/payments.failed/2.0/euro.json: refused by its own version 2.0: payments.failed.v2: at '/amount_money/amount': must be string, got number",
		}},
		{"a minor that narrows a type", func(t *testing.T, dir string) {
			newMinor(t, dir, func(d map[string]any) {
				at(d, "properties", "items", "items", "properties", "quantity")["maximum"] = 100
			})
		}, []string{
			"schemas/orders.created/1.2.json breaks 1.1: at '/items/*/quantity': maximum changed from 10000 to 100",
			"examples/orders.created/1.1/no-priority.json: refused by the next minor 1.2: orders.created.v1: at '/items/0/quantity': must be <= 100",
		}},
		{"a minor that adds a required field", func(t *testing.T, dir string) {
			newMinor(t, dir, func(d map[string]any) {
				at(d, "properties")["gift_wrap"] = map[string]any{"type": "boolean"}
				required(d, "gift_wrap")
			})
		}, []string{"schemas/orders.created/1.2.json breaks 1.1: at '/gift_wrap': added as required"}},
		{"a minor that removes a field", func(t *testing.T, dir string) {
			newMinor(t, dir, func(d map[string]any) { delete(at(d, "properties"), "priority") })
		}, []string{"schemas/orders.created/1.2.json breaks 1.1: at '/priority': removed"}},
		{"a minor that widens an enum, which old readers refuse", func(t *testing.T, dir string) {
			newMinor(t, dir, func(d map[string]any) {
				at(d, "properties", "priority")["enum"] = []any{"standard", "express", "same_day"}
			})
			writeFile(t, dir, "examples/orders.created/1.2/same-day.json", []byte(
				`{"order_id":"o-1","customer_id":"c","items":[{"product_id":"p","quantity":1}],"created_at":"2025-11-26T09:30:00Z","priority":"same_day"}`))
		}, []string{
			`schemas/orders.created/1.2.json breaks 1.1: at '/priority': enum changed from ["standard","express"] to ["standard","express","same_day"]`,
			`examples/orders.created/1.2/same-day.json: refused by a reader of 1.1: orders.created.v1: at '/priority': must be one of "standard", "express"`,
		}},
		{"a field the Go type does not hold", func(t *testing.T, dir string) {
			newMinor(t, dir, func(d map[string]any) { at(d, "properties")["gift_wrap"] = map[string]any{"type": "boolean"} })
			writeFile(t, dir, "examples/orders.created/1.2/gift.json", []byte(
				`{"order_id":"o-1","customer_id":"c","items":[{"product_id":"p","quantity":1}],"created_at":"2025-11-26T09:30:00Z","gift_wrap":true}`))
		}, []string{`examples/orders.created/1.2/gift.json: decoding into contracts.OrderCreatedEvent loses "gift_wrap": the Go type has no field for it`}},
		{"a value the Go type changes", func(t *testing.T, dir string) {
			writeFile(t, dir, "examples/orders.created/1.1/fraction.json", []byte(
				`{"order_id":"o-1","customer_id":"c","items":[{"product_id":"p","quantity":1}],"created_at":"2025-11-26T09:30:00.500Z"}`))
		}, []string{`examples/orders.created/1.1/fraction.json: decoding into contracts.OrderCreatedEvent and back changes '/created_at': "2025-11-26T09:30:00.500Z" comes back as "2025-11-26T09:30:00.5Z"`}},
		{"a new minor without examples", func(t *testing.T, dir string) {
			newMinor(t, dir, func(map[string]any) {})
			if err := os.RemoveAll(filepath.Join(dir, "examples/orders.created/1.2")); err != nil {
				t.Fatal(err)
			}
		}, []string{
			"examples/orders.created/1.2: 0 examples; a version needs at least 2",
			"schemas/orders.created/1.2.json: orders.created 1.2 is not released",
		}},
		{"an optional field no example leaves out", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "examples/orders.created/1.1/no-priority.json")); err != nil {
				t.Fatal(err)
			}
		}, []string{"examples/orders.created/1.1: no example leaves out the optional '/priority'"}},
		{"a released version deleted", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "schemas/payments.failed/2.0.json")); err != nil {
				t.Fatal(err)
			}
		}, []string{
			"testdata/released.json: released payments.failed 2.0 has no schema file",
			"examples/payments.failed/2.0: no schema payments.failed 2.0",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := copyContracts(t)
			tc.edit(t, dir)
			fsys := os.DirFS(dir)
			released, err := readReleased(fsys)
			if err != nil {
				t.Fatal(err)
			}
			breaches := gate(fsys, released)
			for _, want := range tc.want {
				if !containsLine(breaches, want) {
					t.Errorf("no breach says %q; the gate said:\n%s", want, strings.Join(breaches, "\n"))
				}
			}
		})
	}
}

// The unbroken copy passes, and so does a minor that only adds an optional
// property (the Go type already holds it) and its examples: the gate lets
// additive changes through.
func TestGatePassesCompatibleChanges(t *testing.T) {
	dir := copyContracts(t)
	if b := gate(os.DirFS(dir), mustReleased(t, dir)); len(b) > 0 {
		t.Fatalf("the copy fails:\n%s", strings.Join(b, "\n"))
	}
	// 1.1 back to 1.0 plus a nested optional note: a minor 1.1' whose
	// examples a 1.0 reader and a 1.1' reader both accept.
	editJSON(t, dir, "schemas/orders.created/1.1.json", func(d map[string]any) {
		d["description"] = "reworded: a description may change in any version"
	})
	newMinor(t, dir, func(d map[string]any) { d["description"] = "1.2: same constraints as 1.1" })
	released := mustReleased(t, dir)
	released["orders.created 1.2"] = released["orders.created 1.1"]
	if b := gate(os.DirFS(dir), released); len(b) > 0 {
		t.Fatalf("a compatible change fails:\n%s", strings.Join(b, "\n"))
	}
}

func mustReleased(t *testing.T, dir string) map[string]json.RawMessage {
	t.Helper()
	r, err := readReleased(os.DirFS(dir))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if strings.Contains(l, want) {
			return true
		}
	}
	return false
}
