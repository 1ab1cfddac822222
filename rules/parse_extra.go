package rules

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// scopeSpec limits where a rule may act, by the action's own parameters.
type scopeSpec struct {
	node                        *yaml.Node
	accounts, regions, projects []string
}

// exemptSpec names resources a rule leaves alone.
type exemptSpec struct {
	node      *yaml.Node
	resources []string
	when      *yaml.Node
}

// limitsSpec caps a rule's writes per window.
type limitsSpec struct {
	node   *yaml.Node
	writes int
	per    time.Duration
}

// attrSpec matches one more context attribute or extension.
type attrSpec struct {
	name  string
	value *yaml.Node
}

// policyPart is one top-level policy key and its value.
type policyPart struct {
	file string
	key  *yaml.Node
	val  *yaml.Node
}

// takePolicy removes the top-level "policy" (or "vars") key from a
// document, keeping its entries for the compiler.
func (p *parser) takePolicy(top *yaml.Node) *yaml.Node {
	rest := *top
	rest.Content = nil
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if k.Value != "policy" && k.Value != "vars" {
			rest.Content = append(rest.Content, k, v)
			continue
		}
		if v.Kind != yaml.MappingNode {
			p.add(v, "", k.Value, "must be a mapping")
			continue
		}
		for j := 0; j+1 < len(v.Content); j += 2 {
			p.policy = append(p.policy, policyPart{file: p.file, key: v.Content[j], val: v.Content[j+1]})
		}
	}
	return &rest
}

func (p *parser) stringList(n *yaml.Node, rule, field string) []string {
	if n.Kind != yaml.SequenceNode {
		p.add(n, rule, field, "must be a list of strings")
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for _, it := range n.Content {
		if p.scalar(it, rule, field, "!!str") {
			out = append(out, it.Value)
		}
	}
	return out
}

func (p *parser) scope(n *yaml.Node, s *spec) {
	if n.Kind != yaml.MappingNode {
		p.add(n, s.name, "scope", "must be a mapping")
		return
	}
	s.scope.node = n
	list := func(field string, dst *[]string) func(k, v *yaml.Node) {
		return func(_, v *yaml.Node) { *dst = p.stringList(v, s.name, "scope."+field) }
	}
	p.fields(n, s.name, "scope.", map[string]func(k, v *yaml.Node){
		"accounts": list("accounts", &s.scope.accounts),
		"regions":  list("regions", &s.scope.regions),
		"projects": list("projects", &s.scope.projects),
	})
}

func (p *parser) exempt(n *yaml.Node, s *spec) {
	if n.Kind != yaml.MappingNode {
		p.add(n, s.name, "exempt", "must be a mapping")
		return
	}
	s.exempt.node = n
	p.fields(n, s.name, "exempt.", map[string]func(k, v *yaml.Node){
		"resources": func(_, v *yaml.Node) { s.exempt.resources = p.stringList(v, s.name, "exempt.resources") },
		"when": func(_, v *yaml.Node) {
			if p.scalar(v, s.name, "exempt.when", "!!str") {
				s.exempt.when = v
			}
		},
	})
}

func (p *parser) limits(n *yaml.Node, s *spec) {
	if n.Kind != yaml.MappingNode {
		p.add(n, s.name, "limits", "must be a mapping")
		return
	}
	l := &limitsSpec{node: n}
	p.fields(n, s.name, "limits.", map[string]func(k, v *yaml.Node){
		"writes": func(_, v *yaml.Node) {
			if p.scalar(v, s.name, "limits.writes", "!!int") {
				_ = v.Decode(&l.writes)
			}
		},
		"per": func(_, v *yaml.Node) {
			if !p.scalar(v, s.name, "limits.per", "!!str") {
				return
			}
			d, err := time.ParseDuration(v.Value)
			if err != nil || d < time.Second {
				p.add(v, s.name, "limits.per", "must be a duration of at least 1s, like 10m or 1h")
				return
			}
			l.per = d
		},
	})
	if l.writes <= 0 || l.per == 0 {
		p.add(n, s.name, "limits", "needs writes (a positive number) and per (a duration)")
		return
	}
	s.limits = l
}

func (p *parser) attributes(n *yaml.Node, s *spec) {
	if n.Kind != yaml.MappingNode {
		p.add(n, s.name, "match.attributes", "must be a mapping of attribute name to pattern")
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if p.scalar(v, s.name, "match.attributes."+k.Value, "!!str") {
			s.attrs = append(s.attrs, attrSpec{name: k.Value, value: v})
		}
	}
}
