package runtime

import "testing"

// TestIntegralNumbers: only integers written with a fraction or an
// exponent change, and nothing inside strings.
func TestIntegralNumbers(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{`{"a":1.0}`, `{"a":1}`},
		{`{"a":-2.50e1,"b":"1.0","c":[1e0, 0.0]}`, `{"a":-25,"b":"1.0","c":[1, 0]}`},
		{`{"a":100E-2,"b":1.5,"c":1e-1}`, `{"a":1,"b":1.5,"c":1e-1}`},
		{`{"a\"1.0":1.00}`, `{"a\"1.0":1}`},
		{`{"big":1e21,"huge":1e999,"fine":12345678901234567890.0}`, `{"big":1e21,"huge":1e999,"fine":12345678901234567890}`},
		{`{"a":1,"t":true}`, ``},
	} {
		out, ok := integralNumbers([]byte(c.in))
		if c.out == "" {
			if ok {
				t.Errorf("%s: changed to %s, want unchanged", c.in, out)
			}
			continue
		}
		if !ok || string(out) != c.out {
			t.Errorf("%s: %s (%v), want %s", c.in, out, ok, c.out)
		}
	}
}
