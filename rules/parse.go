package rules

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// spec is a rule as written, with the positions of its parts.
type spec struct {
	scope       scopeSpec
	exempt      exemptSpec
	limits      *limitsSpec
	approval    *approvalSpec
	attrs       []attrSpec
	file        string
	node        *yaml.Node
	name        string
	description string
	enabled     bool
	matchType   *yaml.Node
	matchSource *yaml.Node
	when        *yaml.Node
	action      *yaml.Node
	params      []paramSpec
	dryRun      bool
}

type paramSpec struct {
	name   string
	key    *yaml.Node
	value  *yaml.Node // scalar literal
	expr   *yaml.Node // or CEL source
	policy bool       // expr came from {policy: ...}
	bad    bool       // given, but malformed (already reported)
}

// parser collects problems while walking one file's YAML tree.
type parser struct {
	file     string
	problems []Problem
	policy   []policyPart
}

func (p *parser) add(n *yaml.Node, rule, field, format string, args ...any) {
	line, col := 0, 0
	if n != nil {
		line, col = n.Line, n.Column
	}
	p.problems = append(p.problems, Problem{File: p.file, Line: line, Column: col, Rule: rule, Field: field, Msg: fmt.Sprintf(format, args...)})
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntax records a YAML syntax error at the line the YAML parser names.
func (p *parser) syntax(err error) {
	line, msg := 0, err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = "YAML: " + m[2]
	}
	p.problems = append(p.problems, Problem{File: p.file, Line: line, Column: 1, Msg: msg})
}

// parseFile reads every YAML document in r as a rules file.
func parseFile(file string, r io.Reader) ([]*spec, []policyPart, []Problem) {
	p := &parser{file: file}
	dec := yaml.NewDecoder(r)
	var out []*spec
	docs := 0
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			p.syntax(err)
			break
		}
		docs++
		out = append(out, p.document(&doc)...)
	}
	if docs == 0 && len(p.problems) == 0 {
		// Read as a file with no rules, it would drop its rules from the
		// set while the rest loads: what a reader sees of a file being
		// rewritten in place, caught between truncation and write.
		p.problems = append(p.problems, Problem{File: file, Line: 1, Column: 1,
			Msg: "the file is empty (blank or only comments): write rule files under a temporary name in the same directory, then rename them"})
	}
	return out, p.policy, p.problems
}

func (p *parser) document(doc *yaml.Node) []*spec {
	if len(doc.Content) == 0 {
		return nil
	}
	if doc.Content[0].Kind == yaml.MappingNode {
		doc.Content[0] = p.takePolicy(doc.Content[0])
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		p.add(top, "", "", "a rules file must be a mapping with a 'rules' list")
		return nil
	}
	if k := mapKey(top, "tests"); k != nil {
		// The reverse mistake of giving a rule file to `rules test`: say
		// so once rather than list every field of the test file.
		p.add(k, "", "", "this is a rule test file (it has tests:), not a rule file: run it with `remediator rules test %s`, "+
			"and keep test files out of the directories given to --rules (see README \"Checking and testing rules offline\")", p.file)
		return nil
	}
	var out []*spec
	p.fields(top, "", "", map[string]func(*yaml.Node, *yaml.Node){
		"rules": func(k, v *yaml.Node) {
			if v.Kind != yaml.SequenceNode {
				p.add(v, "", "rules", "must be a list")
				return
			}
			for i, item := range v.Content {
				if s := p.rule(deref(item), i); s != nil {
					out = append(out, s)
				}
			}
		},
	})
	return out
}

// fields walks a mapping, handing each known key to its handler and
// reporting unknown and repeated keys.
func (p *parser) fields(m *yaml.Node, rule, prefix string, known map[string]func(k, v *yaml.Node)) {
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], deref(m.Content[i+1])
		name := prefix + k.Value
		h, ok := known[k.Value]
		switch {
		case !ok:
			p.add(k, rule, name, "unknown field")
		case seen[k.Value]:
			p.add(k, rule, name, "repeated field")
		default:
			seen[k.Value] = true
			h(k, v)
		}
	}
}

func (p *parser) rule(n *yaml.Node, index int) *spec {
	if n.Kind != yaml.MappingNode {
		p.add(n, "", fmt.Sprintf("rules[%d]", index), "a rule must be a mapping")
		return nil
	}
	s := &spec{file: p.file, node: n, enabled: true}
	s.name = fmt.Sprintf("#%d", index)
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == "name" && n.Content[i+1].Kind == yaml.ScalarNode {
			s.name = n.Content[i+1].Value
		}
	}
	str := func(field string, dst **yaml.Node) func(k, v *yaml.Node) {
		return func(_, v *yaml.Node) {
			if p.scalar(v, s.name, field, "!!str") {
				*dst = v
			}
		}
	}
	var nameNode, descNode *yaml.Node
	p.fields(n, s.name, "", map[string]func(k, v *yaml.Node){
		"name":        str("name", &nameNode),
		"description": str("description", &descNode),
		"enabled":     func(_, v *yaml.Node) { s.enabled = p.boolean(v, s.name, "enabled", true) },
		"dry_run":     func(_, v *yaml.Node) { s.dryRun = p.boolean(v, s.name, "dry_run", false) },
		"when":        str("when", &s.when),
		"action":      str("action", &s.action),
		"match":       func(_, v *yaml.Node) { p.match(v, s) },
		"params":      func(_, v *yaml.Node) { p.params(v, s) },
		"scope":       func(_, v *yaml.Node) { p.scope(v, s) },
		"exempt":      func(_, v *yaml.Node) { p.exempt(v, s) },
		"limits":      func(_, v *yaml.Node) { p.limits(v, s) },
		"approval":    func(_, v *yaml.Node) { p.approval(v, s) },
	})
	if nameNode == nil || nameNode.Value == "" {
		p.add(n, s.name, "name", "is required")
	}
	if descNode != nil {
		s.description = descNode.Value
	}
	if s.action == nil {
		p.add(n, s.name, "action", "is required")
	}
	return s
}

func (p *parser) match(n *yaml.Node, s *spec) {
	if n.Kind != yaml.MappingNode {
		p.add(n, s.name, "match", "must be a mapping")
		return
	}
	set := func(field string, dst **yaml.Node) func(k, v *yaml.Node) {
		return func(_, v *yaml.Node) {
			if p.scalar(v, s.name, "match."+field, "!!str") {
				*dst = v
			}
		}
	}
	p.fields(n, s.name, "match.", map[string]func(k, v *yaml.Node){
		"type":       set("type", &s.matchType),
		"source":     set("source", &s.matchSource),
		"attributes": func(_, v *yaml.Node) { p.attributes(v, s) },
	})
	if s.matchType == nil {
		p.add(n, s.name, "match.type", "is required")
	}
}

func (p *parser) params(n *yaml.Node, s *spec) {
	if n.Kind != yaml.MappingNode {
		p.add(n, s.name, "params", "must be a mapping")
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		field := "params." + k.Value
		if seen[k.Value] {
			p.add(k, s.name, field, "repeated parameter")
			continue
		}
		seen[k.Value] = true
		ps := paramSpec{name: k.Value, key: k}
		switch v.Kind {
		case yaml.ScalarNode:
			if p.scalar(v, s.name, field, "!!str") {
				ps.value = v
			}
		case yaml.MappingNode:
			p.fields(v, s.name, field+".", map[string]func(k, v *yaml.Node){
				"expr": func(_, e *yaml.Node) {
					if p.scalar(e, s.name, field+".expr", "!!str") {
						ps.expr = e
					}
				},
				"policy": func(_, e *yaml.Node) {
					if p.scalar(e, s.name, field+".policy", "!!str") {
						ps.expr, ps.policy = e, true
					}
				},
			})
			if ps.expr == nil {
				p.add(v, s.name, field, "a parameter is a literal, {expr: <CEL>} or {policy: <CEL>}")
			}
		default:
			p.add(v, s.name, field, "a parameter is a literal, {expr: <CEL>} or {policy: <CEL>}")
		}
		ps.bad = ps.value == nil && ps.expr == nil
		s.params = append(s.params, ps)
	}
}

// scalar reports a problem unless n is a scalar with the given tag.
func (p *parser) scalar(n *yaml.Node, rule, field, tag string) bool {
	if n.Kind != yaml.ScalarNode || n.Tag != tag {
		p.add(n, rule, field, "must be a %s, got %s", tagName(tag), describe(n))
		return false
	}
	return true
}

func (p *parser) boolean(n *yaml.Node, rule, field string, def bool) bool {
	if !p.scalar(n, rule, field, "!!bool") {
		return def
	}
	b, _ := strconv.ParseBool(n.Value)
	return b
}

func tagName(tag string) string {
	switch tag {
	case "!!str":
		return "string"
	case "!!bool":
		return "boolean"
	case "!!int":
		return "integer"
	}
	return tag
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return fmt.Sprintf("%s %q", tagName(n.ShortTag()), n.Value)
}

// mapKey returns the key node of name in mapping m, or nil.
func mapKey(m *yaml.Node, name string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == name {
			return m.Content[i]
		}
	}
	return nil
}

// deref follows YAML aliases (*name) to the anchored node, so rule files
// can share params or conditions with anchors.
func deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}
