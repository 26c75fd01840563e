package contracts

// withoutClosedObjects returns a copy of a schema in which no object
// forbids the properties it does not declare: every "additionalProperties"
// and "unevaluatedProperties" that is false is gone, and nothing else
// changes, so what the schema says of the properties it knows still holds.
// It is the schema a reader applies to an event of a newer minor.
func withoutClosedObjects(schema any) any {
	return rewriteSchema(schema, func(keyword string, value any) bool {
		return (keyword == "additionalProperties" || keyword == "unevaluatedProperties") && value == false
	})
}

// rewriteSchema returns a copy of a JSON Schema without the keywords that
// drop reports true for, at every depth. It tells the keywords whose
// values are schemas from those whose values are data, so a property
// named like a keyword ("properties": {"additionalProperties": ...}) is
// left alone.
func rewriteSchema(schema any, drop func(keyword string, value any) bool) any {
	obj, ok := schema.(map[string]any)
	if !ok {
		return schema // true or false
	}
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		if drop(k, v) {
			continue
		}
		switch k {
		case "properties", "patternProperties", "$defs", "dependentSchemas":
			if m, ok := v.(map[string]any); ok {
				sub := make(map[string]any, len(m))
				for name, s := range m {
					sub[name] = rewriteSchema(s, drop)
				}
				v = sub
			}
		case "allOf", "anyOf", "oneOf", "prefixItems":
			if l, ok := v.([]any); ok {
				sub := make([]any, len(l))
				for i, s := range l {
					sub[i] = rewriteSchema(s, drop)
				}
				v = sub
			}
		case "items", "contains", "not", "if", "then", "else", "propertyNames",
			"additionalProperties", "unevaluatedProperties", "unevaluatedItems":
			v = rewriteSchema(v, drop)
		}
		out[k] = v // any other keyword's value is data: enum, const, required, ...
	}
	return out
}
