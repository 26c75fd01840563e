package contracts

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// The official AsyncAPI 3.0.0 JSON Schema (testdata/asyncapi/README.md).
const (
	asyncAPISchemaFile   = "testdata/asyncapi/asyncapi-3.0.0.json"
	asyncAPISchemaURL    = "http://asyncapi.com/definitions/3.0.0/asyncapi.json"
	asyncAPISchemaSHA256 = "d3ddc0539778330c1a2952cc9b9f705a5326aa84476cdba50c5f23b17e34d34a"
)

// offline refuses every URL: the bundled schema holds all it refers to,
// and a test never reaches the network.
type offline struct{}

func (offline) Load(url string) (any, error) {
	return nil, errors.New("no network in tests: " + url)
}

// officialAsyncAPISchema compiles the vendored schema, after checking it
// is the file the README names.
func officialAsyncAPISchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	raw, err := os.ReadFile(asyncAPISchemaFile)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	if got := hex.EncodeToString(sum[:]); got != asyncAPISchemaSHA256 {
		t.Fatalf("%s has SHA-256 %s, not the official file's %s", asyncAPISchemaFile, got, asyncAPISchemaSHA256)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(offline{})
	c.AssertFormat()
	if err := c.AddResource(asyncAPISchemaURL, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(asyncAPISchemaURL)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlDoc reads a YAML document as the JSON values the validator takes.
func yamlDoc(t *testing.T, raw []byte) any {
	t.Helper()
	j, err := yaml.YAMLToJSON(raw)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The committed document is valid AsyncAPI 3.0.0.
func TestAsyncAPIValidAgainstOfficialSchema(t *testing.T) {
	schema := officialAsyncAPISchema(t)
	raw, err := os.ReadFile(asyncAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(yamlDoc(t, raw)); err != nil {
		t.Fatalf("%s is not valid AsyncAPI 3.0.0:\n%v", asyncAPIFile, err)
	}
}

// The official schema refuses what AsyncAPI 3.0 does not allow, so the
// test above can fail: an AsyncAPI 2 "publish" action, an operation
// without its channel, a message with a property the spec does not know.
func TestOfficialSchemaRefusesBrokenDocuments(t *testing.T) {
	schema := officialAsyncAPISchema(t)
	raw, err := os.ReadFile(asyncAPIFile)
	if err != nil {
		t.Fatal(err)
	}
	breaks := map[string]func(doc map[string]any){
		"a 2.x action": func(doc map[string]any) {
			op := doc["operations"].(map[string]any)["orders.created.publish"].(map[string]any)
			op["action"] = "publish"
		},
		"an operation without a channel": func(doc map[string]any) {
			delete(doc["operations"].(map[string]any)["orders.create"].(map[string]any), "channel")
		},
		"an unknown message field": func(doc map[string]any) {
			msg := doc["components"].(map[string]any)["messages"].(map[string]any)["orders.created.v1"].(map[string]any)
			msg["schemaId"] = "orders.created.v1"
		},
		"another spec version": func(doc map[string]any) { doc["asyncapi"] = "2.6.0" },
	}
	for name, edit := range breaks {
		t.Run(name, func(t *testing.T) {
			j, err := yaml.YAMLToJSON(raw)
			if err != nil {
				t.Fatal(err)
			}
			var doc map[string]any
			if err := json.Unmarshal(j, &doc); err != nil {
				t.Fatal(err)
			}
			edit(doc)
			b, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			err = schema.Validate(v)
			if err == nil {
				t.Fatal("the official schema accepted it")
			}
			if !strings.Contains(err.Error(), "jsonschema validation failed") {
				t.Errorf("unexpected error: %v", err)
			}
		})
	}
}
