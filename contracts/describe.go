package contracts

import (
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// maxViolations is how many violations one error message spells out; the
// rest are counted, so the message stays one short line.
const maxViolations = 3

// violation is one broken rule at one place of the document.
type violation struct {
	at   string // JSON pointer, "" for the document itself
	rule string // what the value must be, e.g. "must be >= 1"
}

func (v violation) String() string {
	if v.at == "" {
		return "at document root: " + v.rule
	}
	return "at '" + v.at + "': " + v.rule
}

// describe flattens the library's tree of errors into one line. The
// violations are sorted, because the library visits object properties in
// map order and the same document must always get the same message.
func describe(err *jsonschema.ValidationError) string {
	vs := collect(err, nil)
	if len(vs) == 0 {
		return "does not match its schema"
	}
	slices.SortFunc(vs, func(a, b violation) int {
		if c := strings.Compare(a.at, b.at); c != 0 {
			return c
		}
		return strings.Compare(a.rule, b.rule)
	})
	vs = slices.Compact(vs)
	parts := make([]string, 0, maxViolations+1)
	for i, v := range vs {
		if i == maxViolations {
			parts = append(parts, fmt.Sprintf("and %d more", len(vs)-maxViolations))
			break
		}
		parts = append(parts, v.String())
	}
	return strings.Join(parts, "; ")
}

// collect appends the leaves of the error tree: the nodes above them
// (allOf, $ref, groups) only say that something below failed. Missing and
// unexpected properties are reported at the property's own location.
func collect(err *jsonschema.ValidationError, out []violation) []violation {
	if len(err.Causes) > 0 {
		for _, cause := range err.Causes {
			out = collect(cause, out)
		}
		return out
	}
	at := pointer(err.InstanceLocation)
	switch k := err.ErrorKind.(type) {
	case *kind.Required:
		for _, name := range k.Missing {
			out = append(out, violation{at: at + "/" + escapeToken(name), rule: "is required"})
		}
	case *kind.AdditionalProperties:
		for _, name := range k.Properties {
			out = append(out, violation{at: at + "/" + escapeToken(name), rule: "is not allowed"})
		}
	default:
		out = append(out, violation{at: at, rule: rule(err.ErrorKind)})
	}
	return out
}

// rule says what a value must be to satisfy the keyword that failed.
func rule(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return "must be " + strings.Join(k.Want, " or ") + ", got " + k.Got
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = literal(w)
		}
		return "must be one of " + strings.Join(want, ", ")
	case *kind.Const:
		return "must be " + literal(k.Want)
	case *kind.Minimum:
		return "must be >= " + number(k.Want)
	case *kind.Maximum:
		return "must be <= " + number(k.Want)
	case *kind.ExclusiveMinimum:
		return "must be > " + number(k.Want)
	case *kind.ExclusiveMaximum:
		return "must be < " + number(k.Want)
	case *kind.MultipleOf:
		return "must be a multiple of " + number(k.Want)
	case *kind.MinItems:
		return "must have at least " + count(k.Want, "item")
	case *kind.MaxItems:
		return "must have at most " + count(k.Want, "item")
	case *kind.MinLength:
		return "must be at least " + count(k.Want, "character") + " long"
	case *kind.MaxLength:
		return "must be at most " + count(k.Want, "character") + " long"
	case *kind.MinProperties:
		return "must have at least " + count(k.Want, "property")
	case *kind.MaxProperties:
		return "must have at most " + count(k.Want, "property")
	case *kind.Pattern:
		return "must match " + k.Want
	case *kind.Format:
		return "must be a valid " + k.Want
	case *kind.FalseSchema:
		return "is not allowed"
	default:
		return k.LocalizedString(message.NewPrinter(language.English))
	}
}

// pointer renders an instance location as a JSON pointer (RFC 6901).
func pointer(tokens []string) string {
	var sb strings.Builder
	for _, tok := range tokens {
		sb.WriteByte('/')
		sb.WriteString(escapeToken(tok))
	}
	return sb.String()
}

func escapeToken(tok string) string {
	tok = strings.ReplaceAll(tok, "~", "~0")
	return strings.ReplaceAll(tok, "/", "~1")
}

// literal renders a JSON value of a schema (an enum member, a const).
func literal(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// number renders a schema bound without a fraction when it has none.
func number(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// count renders "1 item" or "100 items".
func count(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	if strings.HasSuffix(noun, "y") {
		return strconv.Itoa(n) + " " + strings.TrimSuffix(noun, "y") + "ies"
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
