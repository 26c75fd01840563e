package contracts_test

import (
	"reflect"
	"testing"

	"github.com/natsfn/natsfn/contracts"
)

// schema and topic mirror the interfaces through which the runtime consumes
// the contracts without importing them.
type (
	schema interface {
		ID() string
		Validate(doc []byte) error
	}
	topic interface {
		schema
		Subject() string
		Stream() string
	}
)

func TestSatisfiesRuntimeInterfaces(t *testing.T) {
	schemaType := reflect.TypeFor[schema]()
	topicType := reflect.TypeFor[topic]()
	if !reflect.TypeFor[*contracts.Schema]().Implements(schemaType) {
		t.Error("*contracts.Schema does not implement the runtime's Schema")
	}
	if !reflect.TypeFor[contracts.Event]().Implements(topicType) {
		t.Error("contracts.Event does not implement the runtime's Topic")
	}
	for _, s := range contracts.Schemas() {
		var v any = s
		if _, ok := v.(schema); !ok {
			t.Errorf("%s is not a schema", s.ID())
		}
	}
	for _, ev := range contracts.Events() {
		var v any = ev
		tp, ok := v.(topic)
		if !ok {
			t.Errorf("%s is not a topic", ev.Subject())
			continue
		}
		if tp.Subject() == "" || tp.Stream() == "" || tp.ID() == "" {
			t.Errorf("topic %#v has empty fields", tp)
		}
	}
}
