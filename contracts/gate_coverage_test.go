package contracts

import (
	"fmt"
	"maps"
	"slices"
)

// coverage counts, for every optional property of a schema, the examples
// that have it and those that leave it out, at every depth ("/items/*/note").
type coverage struct {
	root            map[string]any
	present, absent map[string]int
}

// uncovered returns, for each optional property, what no example shows:
// the property, or its absence. The gate needs both: an example that has
// it fails once the property is removed, renamed or narrowed, and one that
// leaves it out fails once it is made required.
func uncovered(schema any, docs []any) []string {
	c := &coverage{present: map[string]int{}, absent: map[string]int{}}
	c.root, _ = schema.(map[string]any)
	for _, doc := range docs {
		c.visit("", schema, doc, 0)
	}
	var out []string
	seen := maps.Clone(c.present)
	maps.Copy(seen, c.absent)
	for _, at := range slices.Sorted(maps.Keys(seen)) {
		switch {
		case c.present[at] == 0:
			out = append(out, fmt.Sprintf("no example has the optional '%s'", at))
		case c.absent[at] == 0:
			out = append(out, fmt.Sprintf("no example leaves out the optional '%s'", at))
		}
	}
	return out
}

func (c *coverage) visit(at string, schema, doc any, depth int) {
	if depth > 64 {
		return
	}
	s, ok := resolve(c.root, schema).(map[string]any)
	if !ok {
		return
	}
	if props, ok := s["properties"].(map[string]any); ok {
		obj, isObj := doc.(map[string]any)
		required := stringSet(s["required"])
		for name, sub := range props {
			path := at + "/" + escapeToken(name)
			v, has := obj[name]
			if !required[name] && isObj {
				if has {
					c.present[path]++
				} else {
					c.absent[path]++
				}
			}
			if has {
				c.visit(path, sub, v, depth+1)
			}
		}
	}
	if items, ok := s["items"]; ok {
		if arr, ok := doc.([]any); ok {
			for _, v := range arr {
				c.visit(at+"/*", items, v, depth+1)
			}
		}
	}
}
