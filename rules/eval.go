package rules

import (
	"errors"
	"fmt"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/interpreter"

	"github.com/remediator/remediator/events"
)

// Match is one rule that applies to an event, with its parameters
// evaluated. When Err is set the rule applies but cannot run: a
// *ParamError (bad parameters) or an *EvalError (the rule's CEL failed).
type Match struct {
	Rule   *Rule
	Params map[string]string
	// Skip, when set, says the rule applies but must not act: OutOfScope
	// (outside its scope, or no policy entry covers the event) or Exempt.
	// SkipReason says why.
	Skip       Skip
	SkipReason string
	Err        error
}

// Skip is why a matching rule does not act.
type Skip string

// Skips.
const (
	OutOfScope Skip = "out_of_scope"
	Exempt     Skip = "exempt"
)

// ParamError says a parameter's value, computed for one event, is invalid.
type ParamError struct {
	Rule, Param string
	Err         error
}

func (e *ParamError) Error() string {
	return fmt.Sprintf("rule %s: parameter %s: %v", e.Rule, e.Param, e.Err)
}
func (e *ParamError) Unwrap() error { return e.Err }

// EvalError says a rule's condition could not be evaluated for an event.
type EvalError struct {
	Rule, Field string
	Err         error
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("rule %s: %s: %v", e.Rule, e.Field, e.Err)
}
func (e *EvalError) Unwrap() error { return e.Err }

// Evaluate returns the rules that apply to the event, in load order.
func (s *Set) Evaluate(env *events.Envelope) []Match {
	typ := env.Event.Type()
	cands := s.byType[typ]
	if len(cands) == 0 && len(s.globs) == 0 {
		return nil
	}
	source := env.Event.Source()
	vars := &activation{env: env, policy: s.policy}
	var out []Match
	check := func(r *Rule) {
		if !r.sourceGlob.match(source) || !r.attrsMatch(vars) {
			return
		}
		if m, ok := r.evaluate(vars); ok {
			out = append(out, m)
		}
	}
	for _, r := range cands {
		check(r)
	}
	for _, r := range s.globs {
		if r.typeGlob.match(typ) {
			check(r)
		}
	}
	return out
}

// noFinding is what rules see for events of no known form: every field
// present and empty, so conditions on it are simply false.
var noFinding = (&events.Finding{}).Map()

// activation gives CEL the event's variables, building the attribute map
// only if an expression asks for it.
type activation struct {
	env    *events.Envelope
	policy map[string]any
	attrs  map[string]any
}

var _ interpreter.Activation = (*activation)(nil)

// ResolveName implements interpreter.Activation.
func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "data":
		return a.env.Data, true
	case "event":
		return a.attributes(), true
	case "policy":
		return a.policy, true
	case "finding":
		if a.env.Finding == nil {
			return noFinding, true
		}
		return findingVal{a.env.Finding}, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (a *activation) Parent() interpreter.Activation { return nil }

func (a *activation) attributes() map[string]any {
	if a.attrs == nil {
		a.attrs = a.env.Attributes()
	}
	return a.attrs
}

func (r *Rule) evaluate(vars *activation) (Match, bool) {
	m := Match{Rule: r}
	if r.when != nil {
		if r.prefilterFails(vars) {
			return m, false
		}
		v, _, err := r.when.Eval(vars)
		if err != nil {
			m.Err = &EvalError{Rule: r.Name, Field: "when", Err: err}
			return m, true
		}
		b, ok := v.Value().(bool)
		if !ok {
			m.Err = &EvalError{Rule: r.Name, Field: "when", Err: fmt.Errorf("result is %s, not bool", v.Type())}
			return m, true
		}
		if !b {
			return m, false
		}
	}
	m.Params = make(map[string]string, len(r.params))
	for _, p := range r.params {
		val, err := p.value(vars)
		if err != nil && p.policy {
			m.Skip, m.SkipReason = OutOfScope, fmt.Sprintf("no policy entry for %s: %v", p.spec.Name, err)
			return m, true
		}
		if err == nil {
			err = p.check(val)
		}
		if err != nil {
			m.Err = &ParamError{Rule: r.Name, Param: p.spec.Name, Err: err}
			return m, true
		}
		m.Params[p.spec.Name] = val
	}
	if why := r.scope.check(m.Params); why != "" {
		m.Skip, m.SkipReason = OutOfScope, why
		return m, true
	}
	r.exempt(&m, vars)
	return m, true
}

// exempt marks the match exempt when its resource is listed or the
// exempt condition holds.
func (r *Rule) exempt(m *Match, vars *activation) {
	if r.exemptIDs[m.Params[r.resource]] {
		m.Skip, m.SkipReason = Exempt, fmt.Sprintf("%s %s is exempt", r.resource, m.Params[r.resource])
		return
	}
	if r.exemptWhen == nil {
		return
	}
	v, _, err := r.exemptWhen.Eval(vars)
	if err != nil {
		m.Err = &EvalError{Rule: r.Name, Field: "exempt.when", Err: err}
		return
	}
	if b, ok := v.Value().(bool); ok && b {
		m.Skip, m.SkipReason = Exempt, "exempt.when holds"
	}
}

func (r *Rule) attrsMatch(vars *activation) bool {
	if len(r.attrs) == 0 {
		return true
	}
	attrs := vars.attributes()
	for _, a := range r.attrs {
		v, ok := attrs[a.name]
		if !ok {
			return false
		}
		s, ok := v.(string)
		if !ok {
			s = fmt.Sprint(v)
		}
		if !a.glob.match(s) {
			return false
		}
	}
	return true
}

func (p param) value(vars *activation) (string, error) {
	switch {
	case p.expr == nil:
		return p.literal, nil
	case p.field != nil:
		if vars.env.Finding == nil {
			return "", nil // noFinding: every field present and empty
		}
		return p.field(vars.env.Finding), nil
	}
	v, _, err := p.expr.Eval(vars)
	if err != nil {
		return "", err
	}
	return stringValue(v)
}

func stringValue(v ref.Val) (string, error) {
	if s, ok := v.(types.String); ok {
		return string(s), nil
	}
	if types.IsError(v) {
		return "", errors.New(v.(*types.Err).String())
	}
	return "", fmt.Errorf("expression gave %s, want string", v.Type().TypeName())
}
