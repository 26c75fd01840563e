package contracts

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// checker walks one document against a compiled schema, collecting what
// it breaks. The order of the checks, and which failures stop the others
// at the same place (type, const, enum, format), are the reference
// library's, so that the same document gets the same violations.
type checker struct {
	path  []string // the tokens of where in the document the walk is
	out   []violation
	quiet int // > 0 while only whether a value is valid matters (if, not, ...)
}

// check reports whether v satisfies n, recording what it breaks.
func (c *checker) check(n *node, v any) bool {
	if n.always != nil {
		if !*n.always {
			c.report("is not allowed")
		}
		return *n.always
	}
	if n.types != 0 && !hasType(n.types, v) {
		var want []string
		for _, t := range typeNames {
			if n.types&t.t != 0 {
				want = append(want, t.name)
			}
		}
		c.report("must be " + strings.Join(want, " or ") + ", got " + typeName(v))
		return false
	}
	if n.hasConst && !equal(v, n.constant) {
		c.report("must be " + literal(n.constant))
		return false
	}
	if n.enum != nil && !slices.ContainsFunc(n.enum, func(w any) bool { return equal(v, w) }) {
		c.report(enumRule(n.enum))
		return false
	}
	if s, isString := v.(string); isString && n.isFormat != nil && !n.isFormat(s) {
		c.report("must be a valid " + n.format)
		return false
	}
	ok := true
	if n.ref != nil {
		if ok = c.check(n.ref, v); !ok && c.quiet > 0 {
			return false
		}
	}
	switch v := v.(type) {
	case map[string]any:
		ok = c.object(n, v) && ok
	case []any:
		ok = c.array(n, v) && ok
	case string:
		ok = c.string(n, v) && ok
	case json.Number:
		ok = c.number(n, v) && ok
	}
	if !ok && c.quiet > 0 {
		return false
	}
	return c.conditions(n, v) && ok
}

// report records a violation at the walk's place.
func (c *checker) report(rule string) {
	if c.quiet == 0 {
		c.out = append(c.out, violation{at: pointer(c.path), rule: rule})
	}
}

// reportAt records a violation at the member or item tok of the walk's
// place.
func (c *checker) reportAt(tok, rule string) {
	c.path = append(c.path, tok)
	c.report(rule)
	c.path = c.path[:len(c.path)-1]
}

// at checks v, found under the token tok, against n.
func (c *checker) at(tok string, n *node, v any) bool {
	c.path = append(c.path, tok)
	ok := c.check(n, v)
	c.path = c.path[:len(c.path)-1]
	return ok
}

// valid reports whether v satisfies n, recording nothing.
func (c *checker) valid(n *node, v any) bool {
	c.quiet++
	ok := c.check(n, v)
	c.quiet--
	return ok
}

func (c *checker) object(n *node, obj map[string]any) bool {
	ok := c.sizeWithin(len(obj), n.minProperties, n.maxProperties, "have", "property", "")
	ok = c.requires(obj, n.required, "is required") && ok
	for name, deps := range n.dependentRequired {
		if _, present := obj[name]; present {
			ok = c.requires(obj, deps, "is required when '"+name+"' is present") && ok
		}
	}
	if !ok && c.quiet > 0 {
		return false
	}
	for name, s := range n.dependentSchemas {
		if _, present := obj[name]; present {
			ok = c.check(s, obj) && ok
		}
	}
	for name, val := range obj {
		evaluated := false
		if s, declared := n.properties[name]; declared {
			evaluated = true
			ok = c.at(name, s, val) && ok
		}
		for _, p := range n.patternProperties {
			if p.re.MatchString(name) {
				evaluated = true
				ok = c.at(name, p.schema, val) && ok
			}
		}
		if !evaluated && n.additional != nil {
			ok = c.at(name, n.additional, val) && ok
		}
		if !ok && c.quiet > 0 {
			return false
		}
	}
	if n.propertyNames != nil {
		for name := range obj {
			from := len(c.out)
			inner := checker{quiet: c.quiet}
			if inner.check(n.propertyNames, name) {
				continue
			}
			ok = false
			for _, v := range inner.out {
				c.reportAt(name, "its name "+v.rule)
			}
			if len(c.out) == from {
				c.reportAt(name, "is not an allowed property name")
			}
		}
	}
	return ok
}

// sizeWithin checks a count against its bounds (-1: none), worded as
// "must <verb> at least <least> <noun>s<suffix>".
func (c *checker) sizeWithin(size, least, most int, verb, noun, suffix string) bool {
	ok := true
	if least >= 0 && size < least {
		c.report("must " + verb + " at least " + count(least, noun) + suffix)
		ok = false
	}
	if most >= 0 && size > most {
		c.report("must " + verb + " at most " + count(most, noun) + suffix)
		ok = false
	}
	return ok
}

// requires records each of names that obj lacks.
func (c *checker) requires(obj map[string]any, names []string, rule string) bool {
	ok := true
	for _, name := range names {
		if _, present := obj[name]; !present {
			ok = false
			c.reportAt(name, rule)
		}
	}
	return ok
}

func (c *checker) array(n *node, arr []any) bool {
	ok := c.sizeWithin(len(arr), n.minItems, n.maxItems, "have", "item", "")
	if n.unique && len(arr) > 1 {
		seen := make(map[string]int, len(arr))
		for i, item := range arr {
			key := canonical(item)
			if j, dup := seen[key]; dup {
				c.report("must have unique items: items " + strconv.Itoa(j) + " and " + strconv.Itoa(i) + " are equal")
				ok = false
				break
			}
			seen[key] = i
		}
	}
	if !ok && c.quiet > 0 {
		return false
	}
	for i, item := range arr {
		var s *node
		if i < len(n.prefixItems) {
			s = n.prefixItems[i]
		} else if s = n.items; s == nil {
			break
		}
		if ok = c.at(strconv.Itoa(i), s, item) && ok; !ok && c.quiet > 0 {
			return false
		}
	}
	if n.contains != nil {
		matched := 0
		for _, item := range arr {
			if c.valid(n.contains, item) {
				matched++
			}
		}
		least := 1
		if n.minContains >= 0 {
			least = n.minContains
		}
		if matched < least {
			c.report("must contain at least " + count(least, "item") + " matching 'contains'")
			ok = false
		}
		if n.maxContains >= 0 && matched > n.maxContains {
			c.report("must contain at most " + count(n.maxContains, "item") + " matching 'contains'")
			ok = false
		}
	}
	return ok
}

func (c *checker) string(n *node, s string) bool {
	ok := true
	if n.minLength >= 0 || n.maxLength >= 0 {
		ok = c.sizeWithin(utf8.RuneCountInString(s), n.minLength, n.maxLength, "be", "character", " long")
	}
	if n.pattern != nil && !n.pattern.MatchString(s) {
		c.report("must match " + n.pattern.String())
		ok = false
	}
	return ok
}

func (c *checker) number(n *node, v json.Number) bool {
	if n.minimum == nil && n.maximum == nil && n.exclusiveMinimum == nil && n.exclusiveMaximum == nil && n.multipleOf == nil {
		return true
	}
	num, parsed := parseNumber(v)
	if !parsed {
		c.report("must be a number")
		return false
	}
	ok := true
	bounds := []struct {
		b     *number
		fails func(int) bool
		rule  string
	}{
		{n.minimum, func(c int) bool { return c < 0 }, "must be >= "},
		{n.maximum, func(c int) bool { return c > 0 }, "must be <= "},
		{n.exclusiveMinimum, func(c int) bool { return c <= 0 }, "must be > "},
		{n.exclusiveMaximum, func(c int) bool { return c >= 0 }, "must be < "},
	}
	for _, b := range bounds {
		if b.b != nil && b.fails(num.cmp(*b.b)) {
			c.report(b.rule + b.b.String())
			ok = false
		}
	}
	if n.multipleOf != nil && !num.multipleOf(*n.multipleOf) {
		c.report("must be a multiple of " + n.multipleOf.String())
		ok = false
	}
	return ok
}

// conditions applies the keywords that combine schemas on the same value.
func (c *checker) conditions(n *node, v any) bool {
	ok := true
	if n.not != nil && c.valid(n.not, v) {
		c.report("must not be valid against the schema in 'not'")
		ok = false
	}
	for _, s := range n.allOf {
		if ok = c.check(s, v) && ok; !ok && c.quiet > 0 {
			return false
		}
	}
	if n.anyOf != nil {
		from := len(c.out)
		matched := false
		for _, s := range n.anyOf {
			if c.check(s, v) {
				matched = true
				break
			}
		}
		if matched {
			c.out = c.out[:from] // what the branches before it broke
		} else {
			ok = false
		}
	}
	if n.oneOf != nil {
		// Like anyOf, what the branches broke is the error when none
		// matches; when one does, it is forgotten.
		from := len(c.out)
		first, second := -1, -1
		for i, s := range n.oneOf {
			if first < 0 {
				if c.check(s, v) {
					first = i
				}
			} else if c.valid(s, v) {
				second = i
				break
			}
		}
		if first >= 0 {
			c.out = c.out[:from]
		}
		if second >= 0 {
			c.report("must be valid against exactly one schema of 'oneOf', is against " +
				strconv.Itoa(first) + " and " + strconv.Itoa(second))
		}
		if first < 0 || second >= 0 {
			ok = false
		}
	}
	if n.ifSchema != nil {
		if c.valid(n.ifSchema, v) {
			if n.thenSchema != nil {
				ok = c.check(n.thenSchema, v) && ok
			}
		} else if n.elseSchema != nil {
			ok = c.check(n.elseSchema, v) && ok
		}
	}
	return ok
}

func hasType(set jsonType, v any) bool {
	switch v := v.(type) {
	case nil:
		return set&typeNull != 0
	case bool:
		return set&typeBoolean != 0
	case string:
		return set&typeString != 0
	case []any:
		return set&typeArray != 0
	case map[string]any:
		return set&typeObject != 0
	case json.Number:
		if set&typeNumber != 0 {
			return true
		}
		if set&typeInteger == 0 {
			return false
		}
		num, ok := parseNumber(v)
		return ok && num.isInteger()
	}
	return false
}

// equal is JSON equality: numbers by value, objects whatever the order
// of their members.
func equal(a, b any) bool {
	switch a := a.(type) {
	case json.Number:
		b, ok := b.(json.Number)
		if !ok {
			return false
		}
		na, okA := parseNumber(a)
		nb, okB := parseNumber(b)
		return okA && okB && na.cmp(nb) == 0
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, va := range a {
			vb, ok := b[k]
			if !ok || !equal(va, vb) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		return ok && slices.EqualFunc(a, b, equal)
	default: // string, bool, nil
		return a == b
	}
}

// canonical renders a JSON value so that two values are equal exactly
// when their renderings are: the key uniqueItems sorts by, so that it
// takes one pass, not a comparison of every pair.
func canonical(v any) string {
	var sb strings.Builder
	var write func(v any)
	write = func(v any) {
		switch v := v.(type) {
		case json.Number:
			if n, ok := parseNumber(v); ok && n.rat() != nil {
				sb.WriteString("n" + n.rat().RatString())
			} else if ok {
				sb.WriteString("f" + strconv.FormatFloat(n.f, 'g', -1, 64))
			} else {
				sb.WriteString("?" + string(v))
			}
		case string:
			sb.WriteString("s" + strconv.Quote(v))
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			sb.WriteByte('{')
			for _, k := range keys {
				sb.WriteString(strconv.Quote(k) + ":")
				write(v[k])
				sb.WriteByte(',')
			}
			sb.WriteByte('}')
		case []any:
			sb.WriteByte('[')
			for _, item := range v {
				write(item)
				sb.WriteByte(',')
			}
			sb.WriteByte(']')
		default:
			sb.WriteString(typeName(v) + ":" + strconv.FormatBool(v == true))
		}
	}
	write(v)
	return sb.String()
}

func enumRule(values []any) string {
	want := make([]string, len(values))
	for i, w := range values {
		want[i] = literal(w)
	}
	return "must be one of " + strings.Join(want, ", ")
}

// formats are the formats asserted, as draft 2020-12 defines them (RFC
// 3339 and RFC 4122).
var formats = map[string]func(string) bool{
	"uuid":      isUUID,
	"date-time": isDateTime,
	"date":      isDate,
	"time":      isTime,
}

// isUUID: 8-4-4-4-12 hexadecimal digits, either case.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch i {
		case 8, 13, 18, 23:
			if ch != '-' {
				return false
			}
		default:
			if !('0' <= ch && ch <= '9' || 'a' <= ch && ch <= 'f' || 'A' <= ch && ch <= 'F') {
				return false
			}
		}
	}
	return true
}

// isDateTime: an RFC 3339 date-time, "2026-12-03T06:31:45.123Z" or with
// an offset, "T" and "Z" in either case.
func isDateTime(s string) bool {
	return len(s) >= 20 && (s[10] == 'T' || s[10] == 't') && isDate(s[:10]) && isTime(s[11:])
}

// isDate: an RFC 3339 full-date, a day that exists.
func isDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil && len(s) == 10
}

// isTime: an RFC 3339 full-time, hh:mm:ss[.frac](Z|±hh:mm); a leap second
// only at 23:59 UTC.
func isTime(s string) bool {
	if len(s) < 9 || s[2] != ':' || s[5] != ':' {
		return false
	}
	h, okH := twoDigits(s[0:2])
	m, okM := twoDigits(s[3:5])
	sec, okS := twoDigits(s[6:8])
	if !okH || !okM || !okS || h > 23 || m > 59 || sec > 60 {
		return false
	}
	s = s[8:]
	if frac, found := strings.CutPrefix(s, "."); found {
		digits := 0
		for digits < len(frac) && '0' <= frac[digits] && frac[digits] <= '9' {
			digits++
		}
		if digits == 0 {
			return false
		}
		s = frac[digits:]
	}
	if s != "Z" && s != "z" {
		if len(s) != 6 || (s[0] != '+' && s[0] != '-') || s[3] != ':' {
			return false
		}
		oh, okOH := twoDigits(s[1:3])
		om, okOM := twoDigits(s[4:6])
		if !okOH || !okOM || oh > 23 || om > 59 {
			return false
		}
		offset := oh*60 + om
		if s[0] == '+' {
			offset = -offset
		}
		utc := (h*60 + m + offset + 24*60) % (24 * 60)
		h, m = utc/60, utc%60
	}
	return sec < 60 || (h == 23 && m == 59)
}

func twoDigits(s string) (int, bool) {
	if len(s) != 2 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9' {
		return 0, false
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), true
}
