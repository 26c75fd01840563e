package runtime

import (
	"encoding/json"
	"errors"
	"strings"
)

// decode reads a message's JSON payload into an In. An empty payload is
// the zero In when no schema demands more.
//
// JSON Schema counts 1.0 and 1e0 as integers, and Go's decoder refuses them
// for an int field; the contracts' schemas say "integer", so the two must
// agree. Only when the decoder refuses a number is the payload read again
// with every integral number written as an integer: the common path pays
// nothing.
func decode[In any](m *Message) (In, error) {
	var in In
	if len(m.Data) == 0 && m.Schema == nil {
		return in, nil
	}
	err := json.Unmarshal(m.Data, &in)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && strings.HasPrefix(te.Value, "number") {
		if data, ok := integralNumbers(m.Data); ok {
			var again In
			if err = json.Unmarshal(data, &again); err == nil {
				return again, nil
			}
		}
	}
	if err == nil {
		return in, nil
	}
	if errors.As(err, &te) {
		return in, Errorf(ErrInvalid, "malformed JSON: at '%s': got %s, want %s", te.Field, te.Value, te.Type)
	}
	return in, Errorf(ErrInvalid, "malformed JSON: %v", err)
}

// integralNumbers rewrites every number of a JSON document that is an
// integer written with a fraction or an exponent (1.0, 1e0, 2.50e1) as an
// integer, byte for byte otherwise. ok is false when there was none, or the
// document does not tokenize.
func integralNumbers(doc []byte) (out []byte, ok bool) {
	var b strings.Builder
	b.Grow(len(doc))
	changed := false
	for i := 0; i < len(doc); {
		c := doc[i]
		switch {
		case c == '"':
			j := skipString(doc, i)
			if j < 0 {
				return nil, false
			}
			b.Write(doc[i:j])
			i = j
		case c == '-' || (c >= '0' && c <= '9'):
			j := i + 1
			for j < len(doc) && strings.IndexByte("0123456789.eE+-", doc[j]) >= 0 {
				j++
			}
			if n, ok := asInteger(string(doc[i:j])); ok {
				b.WriteString(n)
				changed = true
			} else {
				b.Write(doc[i:j])
			}
			i = j
		default:
			b.WriteByte(c)
			i++
		}
	}
	return []byte(b.String()), changed
}

// skipString returns the index after the JSON string that starts at i.
func skipString(doc []byte, i int) int {
	for j := i + 1; j < len(doc); j++ {
		switch doc[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return -1
}

// asInteger returns the integer a JSON number with a fraction or exponent
// stands for, when it is one of at most 20 digits (past int64 anyway);
// ok is false otherwise, and for a number that is plain already.
func asInteger(num string) (string, bool) {
	mant, exp := num, 0
	if k := strings.IndexAny(num, "eE"); k >= 0 {
		mant = num[:k]
		e := num[k+1:]
		neg := strings.HasPrefix(e, "-")
		e = strings.TrimLeft(e, "+-")
		if e == "" || len(e) > 3 {
			return "", false
		}
		for _, d := range e {
			if d < '0' || d > '9' {
				return "", false
			}
			exp = exp*10 + int(d-'0')
		}
		if neg {
			exp = -exp
		}
	} else if !strings.Contains(num, ".") {
		return "", false
	}
	sign := ""
	if strings.HasPrefix(mant, "-") {
		sign, mant = "-", mant[1:]
	}
	whole, frac, _ := strings.Cut(mant, ".")
	digits := strings.TrimLeft(whole+frac, "0")
	exp -= len(frac)
	for exp < 0 && strings.HasSuffix(digits, "0") {
		digits = digits[:len(digits)-1]
		exp++
	}
	if digits == "" {
		return "0", true
	}
	if exp < 0 || len(digits)+exp > 20 {
		return "", false
	}
	return sign + digits + strings.Repeat("0", exp), true
}
