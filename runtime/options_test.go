package runtime_test

import (
	"testing"
	"time"

	"github.com/natsfn/natsfn/runtime"
)

// TestOptionsFitTheirKind: an option of one kind of handler is not an
// option of the other, so using it there does not compile; an option of
// both kinds is both.
func TestOptionsFitTheirKind(t *testing.T) {
	eventOnly := map[string]any{
		"AckWait":    runtime.AckWait(time.Second),
		"MaxDeliver": runtime.MaxDeliver(3),
		"BackOff":    runtime.BackOff(time.Second),
	}
	for name, o := range eventOnly {
		if _, ok := o.(runtime.EventOption); !ok {
			t.Errorf("%s is not an EventOption", name)
		}
		if _, ok := o.(runtime.EndpointOption); ok {
			t.Errorf("%s is an EndpointOption: an endpoint would take it and ignore it", name)
		}
	}
	if _, ok := any(runtime.WithSchema(echoSchema{})).(runtime.EventOption); ok {
		t.Error("WithSchema is an EventOption: an event handler takes its schema from its Topic")
	}
	both := map[string]runtime.Option{
		"WithTimeout": runtime.WithTimeout(time.Second),
		"Concurrency": runtime.Concurrency(2),
		"MaxBytes":    runtime.MaxBytes(10),
		"Description": runtime.Description("x"),
	}
	for name, o := range both {
		var _ runtime.EndpointOption = o
		var _ runtime.EventOption = o
		if o == nil {
			t.Errorf("%s is nil", name)
		}
	}
}
