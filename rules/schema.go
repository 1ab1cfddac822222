package rules

import (
	"sort"
)

// TestFilesIn expands directories into the *.yaml and *.yml files in them.
func TestFilesIn(paths ...string) ([]string, error) {
	srcs, err := DefaultLimits().readSources(paths)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(srcs))
	for f := range srcs {
		out = append(out, f)
	}
	sort.Strings(out)
	return out, nil
}

// JSONSchema describes the rule file format (JSON Schema 2020-12) with the
// catalog's actions and their parameters.
func JSONSchema(cat Catalog, actions []string) map[string]any {
	str := map[string]any{"type": "string"}
	strList := map[string]any{"type": "array", "items": str}
	param := map[string]any{"oneOf": []any{
		str,
		obj(map[string]any{"expr": map[string]any{"type": "string", "description": "CEL expression giving a string"}}, "expr"),
		obj(map[string]any{"policy": map[string]any{"type": "string", "description": "CEL lookup rooted at policy"}}, "policy"),
	}}
	var variants []any
	for _, a := range actions {
		specs, _ := cat.Params(a)
		props := map[string]any{}
		var req []string
		for _, p := range specs {
			props[p.Name] = map[string]any{"$ref": "#/$defs/param", "description": p.Doc}
			if p.Required {
				req = append(req, p.Name)
			}
		}
		variants = append(variants, map[string]any{
			"if":   map[string]any{"properties": map[string]any{"action": map[string]any{"const": a}}},
			"then": map[string]any{"properties": map[string]any{"params": obj(props, req...)}},
		})
	}
	rule := obj(map[string]any{
		"name":        str,
		"description": str,
		"enabled":     map[string]any{"type": "boolean"},
		"dry_run":     map[string]any{"type": "boolean"},
		"match": obj(map[string]any{
			"type": str, "source": str,
			"attributes": map[string]any{"type": "object", "additionalProperties": str},
		}, "type"),
		"when":   map[string]any{"type": "string", "description": "CEL condition, must be bool"},
		"action": map[string]any{"enum": toAny(actions)},
		"params": map[string]any{"type": "object", "additionalProperties": map[string]any{"$ref": "#/$defs/param"}},
		"scope":  obj(map[string]any{"accounts": strList, "regions": strList, "projects": strList}),
		"exempt": obj(map[string]any{"resources": strList, "when": str}),
		"limits": obj(map[string]any{"writes": map[string]any{"type": "integer", "minimum": 1}, "per": str}, "writes", "per"),
		"approval": obj(map[string]any{
			"required":  map[string]any{"type": "boolean"},
			"approvers": map[string]any{"type": "integer", "minimum": 1, "maximum": MaxApprovers, "default": DefaultApprovers},
			"ttl":       map[string]any{"type": "string", "description": "a duration up to 720h, default 24h"},
		}),
	}, "name", "match", "action")
	rule["allOf"] = variants
	return map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  "https://github.com/remediator/remediator/rules.schema.json",
		"title":                "remediator rules",
		"type":                 "object",
		"additionalProperties": false,
		"properties": map[string]any{
			"policy": map[string]any{"type": "object"},
			"vars":   map[string]any{"type": "object"},
			"rules":  map[string]any{"type": "array", "items": map[string]any{"$ref": "#/$defs/rule"}},
		},
		"$defs": map[string]any{"rule": rule, "param": param},
	}
}

func obj(props map[string]any, required ...string) map[string]any {
	o := map[string]any{"type": "object", "additionalProperties": false, "properties": props}
	if len(required) > 0 {
		o["required"] = required
	}
	return o
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}
