package rules

import (
	"strings"

	"cel.dev/cel-go/cel"
	celast "cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/operators"
	"cel.dev/cel-go/common/types"
	celparser "cel.dev/cel-go/parser"
)

// A when condition whose cost is not bounded runs with cost tracking
// (celLimits), and the tracking costs on every event the rule's match
// selects, even when the condition's first test already fails. Most such
// conditions are conjunctions that start with a cheap test
// (finding.drift == "kms.key_must_be_disabled" && ... .split(",")).
//
// The prefilter is the conjunction of the condition's bounded conjuncts,
// compiled without tracking and run first. When it is false the
// condition is false: CEL's && is false as soon as one operand is false,
// whatever the others are, errors included. So the tracked program runs
// only when the prefilter holds or fails, and gives the result it always
// gave, with one difference: the tracked program alone evaluates left to
// right and may be stopped at the cost limit (which is no error value
// that && absorbs) before it reaches the false conjunct; with the
// prefilter such an event is simply not matched, where the rule used to
// fail (TestWhenPrefilterAtTheCostLimit).

// whenPrefilter compiles the prefilter of a when condition; nil when the
// condition is bounded itself, or has no bounded conjunct to test first.
// A conjunct that does not unparse alone (a comprehension: exists, all,
// map) is left to the condition.
func (c *compiler) whenPrefilter(src string) cel.Program {
	ast, iss := c.env.Compile(src)
	if iss.Err() != nil || boundedCost(c.env, ast) {
		return nil
	}
	var conj []celast.Expr
	conjuncts(ast.NativeRep().Expr(), &conj)
	if len(conj) < 2 {
		return nil
	}
	info := ast.NativeRep().SourceInfo()
	var parts []string
	for _, e := range conj {
		s, err := celparser.Unparse(e, info)
		if err != nil {
			continue
		}
		sub, iss := c.env.Compile(s)
		if iss.Err() != nil || !sub.OutputType().IsExactType(cel.BoolType) || !boundedCost(c.env, sub) {
			continue // a conjunct that does not stand alone, or is itself unbounded
		}
		parts = append(parts, "("+s+")")
	}
	if len(parts) == 0 {
		return nil
	}
	g, iss := c.env.Compile(strings.Join(parts, " && "))
	if iss.Err() != nil || !boundedCost(c.env, g) {
		return nil
	}
	prg, err := c.env.Program(g, celLimits(c.env, g, c.guarded)...)
	if err != nil {
		return nil
	}
	return prg
}

// conjuncts appends the operands of e's top-level && chain to out (e
// itself when it is no conjunction).
func conjuncts(e celast.Expr, out *[]celast.Expr) {
	if e.Kind() == celast.CallKind && e.AsCall().FunctionName() == operators.LogicalAnd {
		for _, a := range e.AsCall().Args() {
			conjuncts(a, out)
		}
		return
	}
	*out = append(*out, e)
}

// prefilterFails reports whether the rule's prefilter says its when
// condition is false for vars (a prefilter that holds or fails leaves it
// to the condition).
func (r *Rule) prefilterFails(vars *activation) bool {
	if r.whenPrefilter == nil {
		return false
	}
	v, _, err := r.whenPrefilter.Eval(vars)
	return err == nil && v == types.False
}
