package orders_test

import (
	"testing"

	"github.com/google/uuid"

	"github.com/natsfn/natsfn/contracts"
)

func TestGetErrors(t *testing.T) {
	t.Parallel()
	h := start(t)
	cases := []struct {
		name, body string
		code       int
	}{
		{"unknown order", `{"order_id":"` + uuid.NewString() + `"}`, 404},
		{"no order id", `{}`, 400},
		{"empty request", ``, 400},
		{"malformed JSON", `{"order_id":`, 400},
		{"order id not a key", `{"order_id":".x"}`, 400},
	}
	for _, c := range cases {
		msg, code := h.request(contracts.SubjectOrdersGet, []byte(c.body), nil)
		if code != c.code {
			t.Errorf("%s: code %d, want %d: %s", c.name, code, c.code, msg.Data)
		}
	}
}
