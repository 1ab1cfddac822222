package rules

import (
	"fmt"
	"slices"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"go.yaml.in/yaml/v3"
)

// scope is where a rule may act, checked against the action's parameters.
type scope struct {
	accounts, regions, projects map[string]bool
}

func set(list []string) map[string]bool {
	if len(list) == 0 {
		return nil
	}
	m := make(map[string]bool, len(list))
	for _, v := range list {
		m[v] = true
	}
	return m
}

// buildPolicy merges the policy sections of every file; a key defined
// twice is a problem.
func (c *compiler) buildPolicy(parts []policyPart) map[string]any {
	out := map[string]any{}
	where := map[string]policyPart{}
	for _, pp := range parts {
		k := pp.key.Value
		if prev, dup := where[k]; dup {
			c.add(pp.file, pp.key, "", "policy."+k, "defined twice (first at %s:%d)", prev.file, prev.key.Line)
			continue
		}
		var v any
		if err := pp.val.Decode(&v); err != nil {
			c.add(pp.file, pp.val, "", "policy."+k, "%v", err)
			continue
		}
		where[k], out[k] = pp, v
	}
	return out
}

// policyProgram compiles a {policy: ...} parameter: a CEL lookup whose
// root is the policy variable, so event data may choose among policy
// values but never supply one. A lookup that uses nothing but policy is
// resolved now, so a missing entry is a load error.
func (c *compiler) policyProgram(s *spec, n *yaml.Node, field string, ps ParamSpec) cel.Program {
	ast, iss := c.env.Compile(n.Value)
	if iss.Err() != nil {
		c.add(s.file, n, s.name, field, "CEL: %s", oneLine(iss.Err().Error()))
		return nil
	}
	if !rootedAtPolicy(ast.NativeRep().Expr()) {
		c.add(s.file, n, s.name, field, "must be a lookup in policy, like policy.keys[data.region]")
		return nil
	}
	prg := c.program(s, n, field, cel.StringType)
	if prg == nil || referencesEventData(ast.NativeRep().Expr()) {
		return prg
	}
	v, _, err := prg.Eval(map[string]any{"policy": c.policy, "event": map[string]any{}, "data": nil, "finding": noFinding})
	if err != nil {
		c.add(s.file, n, s.name, field, "does not resolve: %s", oneLine(err.Error()))
		return nil
	}
	if str, err := stringValue(v); err != nil {
		c.add(s.file, n, s.name, field, "%v", err)
	} else if err := ps.Check(str); err != nil {
		c.add(s.file, n, s.name, field, "%v", err)
	}
	return prg
}

// rootedAtPolicy reports whether e is policy, or a field or index lookup
// chain starting at policy.
func rootedAtPolicy(e celast.Expr) bool {
	for {
		switch e.Kind() {
		case celast.IdentKind:
			return e.AsIdent() == "policy"
		case celast.SelectKind:
			e = e.AsSelect().Operand()
		case celast.CallKind:
			call := e.AsCall()
			if call.FunctionName() != operators.Index && call.FunctionName() != operators.OptIndex {
				return false
			}
			e = call.Args()[0]
		default:
			return false
		}
	}
}

// referencesEventData reports whether e mentions event or data anywhere.
func referencesEventData(e celast.Expr) bool {
	found := false
	celast.PostOrderVisit(e, celast.NewExprVisitor(func(x celast.Expr) {
		if x.Kind() == celast.IdentKind && (x.AsIdent() == "event" || x.AsIdent() == "data" || x.AsIdent() == "finding") {
			found = true
		}
	}))
	return found
}

// scopeAndExempt checks that scope and exempt refer to parameters the
// action has.
func (c *compiler) scopeAndExempt(s *spec, r *Rule, specs []ParamSpec) {
	has := func(name string) bool {
		return slices.ContainsFunc(specs, func(p ParamSpec) bool { return p.Name == name })
	}
	need := func(list []string, param, field string) map[string]bool {
		if len(list) > 0 && !has(param) {
			c.add(s.file, s.scope.node, s.name, "scope."+field, "action %s has no %s parameter to scope by", r.Action, param)
		}
		return set(list)
	}
	r.scope = scope{
		accounts: need(s.scope.accounts, "account", "accounts"),
		regions:  need(s.scope.regions, "region", "regions"),
		projects: need(s.scope.projects, "project_id", "projects"),
	}
	for _, p := range specs {
		if p.Resource {
			r.resource = p.Name
		}
	}
	if len(s.exempt.resources) > 0 {
		if r.resource == "" {
			c.add(s.file, s.exempt.node, s.name, "exempt.resources", "action %s declares no resource parameter", r.Action)
		}
		r.exemptIDs = set(s.exempt.resources)
	}
}

// check returns why params fall outside the scope, or "".
func (sc scope) check(params map[string]string) string {
	for _, c := range []struct {
		allowed map[string]bool
		param   string
	}{{sc.accounts, "account"}, {sc.regions, "region"}, {sc.projects, "project_id"}} {
		if c.allowed != nil && !c.allowed[params[c.param]] {
			return fmt.Sprintf("%s %q is not in the rule's scope", c.param, params[c.param])
		}
	}
	return ""
}
