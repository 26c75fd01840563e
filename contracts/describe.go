package contracts

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
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

// describe renders violations as one line. They are sorted, because
// object members are visited in map order and the same document must
// always get the same message.
func describe(vs []violation) string {
	if len(vs) == 0 {
		return "does not match its schema"
	}
	vs = slices.Clone(vs)
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
