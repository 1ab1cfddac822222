package rules

import (
	"fmt"
	"hash/maphash"
	"strings"
	"sync/atomic"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/functions"
	"cel.dev/cel-go/ext"
	"go.yaml.in/yaml/v3"

	"github.com/remediator/remediator/events"
)

// CostLimit bounds the work one CEL expression may do for one event; an
// expression that exceeds it fails with an error instead of hanging.
const CostLimit = 100_000

// Rule is a loaded, checked rule.
type Rule struct {
	Name        string
	Description string
	Enabled     bool
	Type        string // match.type as written
	Source      string // match.source as written, "" for any
	Action      string
	DryRun      bool
	File        string
	Line        int

	// Limit caps this rule's writes per window; nil for none.
	Limit *Limit
	// Approval, when set, holds the action until people approve it.
	Approval *Approval

	typeGlob      glob
	sourceGlob    glob
	attrs         []attrMatch
	when          cel.Program
	whenPrefilter cel.Program // when's bounded conjuncts, tested first (prefilter.go); nil: none
	params        []param
	scope         scope
	exemptIDs     map[string]bool
	exemptWhen    cel.Program
	resource      string // the action's resource parameter
	digest        string // the rule's YAML, for Diff
}

// ResourceParam names the action parameter that identifies the resource
// acted on ("" when the action declares none).
func (r *Rule) ResourceParam() string { return r.resource }

// Limit is a rule's write budget: at most Writes per Per.
type Limit struct {
	Writes int
	Per    time.Duration
}

type attrMatch struct {
	name string
	glob glob
}

type param struct {
	spec    ParamSpec
	literal string
	expr    cel.Program
	policy  bool // a {policy: ...} lookup: a missing entry means out of scope
	// field, for an expr that is just finding.<a string field>, reads the
	// field without CEL, with CEL's result (TestFindingFieldParams).
	field func(*events.Finding) string
	// valid remembers values that passed the spec's pattern (nil: the
	// spec has none).
	valid *validValues
}

// check checks a computed value against the spec. Values repeat from event
// to event (regions, projects, accounts, keys of a burst), and matching
// the pattern again showed in the no-write path's profile (README,
// Performance).
func (p param) check(v string) error {
	if p.valid != nil && p.valid.has(v) {
		return nil
	}
	if err := p.spec.Check(v); err != nil {
		return err
	}
	if p.valid != nil {
		p.valid.add(v)
	}
	return nil
}

// validValues is a small, lossy, lock-free set of strings: a value hashes
// to one slot and replaces what was there.
type validValues struct {
	seed  maphash.Seed
	slots [256]atomic.Pointer[string]
}

func newValidValues() *validValues { return &validValues{seed: maphash.MakeSeed()} }

func (s *validValues) slot(v string) *atomic.Pointer[string] {
	return &s.slots[maphash.String(s.seed, v)%uint64(len(s.slots))]
}

func (s *validValues) has(v string) bool {
	p := s.slot(v).Load()
	return p != nil && *p == v
}

func (s *validValues) add(v string) { s.slot(v).Store(&v) }

// findingStrings are the finding's string fields as CEL sees them in
// Finding.Map; most parameters are one of them.
var findingStrings = map[string]func(*events.Finding) string{
	"form":          func(f *events.Finding) string { return f.Form },
	"provider":      func(f *events.Finding) string { return f.Provider },
	"account":       func(f *events.Finding) string { return f.Account },
	"region":        func(f *events.Finding) string { return f.Region },
	"project":       func(f *events.Finding) string { return f.Project },
	"resource_type": func(f *events.Finding) string { return f.ResourceType },
	"resource_id":   func(f *events.Finding) string { return f.ResourceID },
	"drift":         func(f *events.Finding) string { return f.Drift },
	"operation":     func(f *events.Finding) string { return f.Operation },
}

func newEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("event", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("data", cel.DynType),
		cel.Variable("policy", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("finding", cel.MapType(cel.StringType, cel.DynType)),
		ext.Strings(),
	)
}

// compiler turns parsed specs into rules, collecting problems.
type compiler struct {
	env      *cel.Env
	guarded  []*functions.Overload // see guardedCalls
	catalog  Catalog
	policy   map[string]any
	problems []Problem
}

func (c *compiler) add(file string, n *yaml.Node, rule, field, format string, args ...any) {
	c.problems = append(c.problems, Problem{File: file, Line: n.Line, Column: n.Column, Rule: rule, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (c *compiler) rule(s *spec) *Rule {
	r := &Rule{Name: s.name, Description: s.description, Enabled: s.enabled, DryRun: s.dryRun, File: s.file, Line: s.node.Line,
		digest: nodeDigest(s.node)}
	if s.matchType != nil {
		r.Type, r.typeGlob = s.matchType.Value, compileGlob(s.matchType.Value)
	}
	if s.matchSource != nil {
		r.Source, r.sourceGlob = s.matchSource.Value, compileGlob(s.matchSource.Value)
	}
	for _, a := range s.attrs {
		r.attrs = append(r.attrs, attrMatch{name: a.name, glob: compileGlob(a.value.Value)})
	}
	if s.when != nil {
		if r.when = c.program(s, s.when, "when", cel.BoolType); r.when != nil {
			r.whenPrefilter = c.whenPrefilter(s.when.Value)
		}
	}
	if s.limits != nil {
		r.Limit = &Limit{Writes: s.limits.writes, Per: s.limits.per}
	}
	r.Approval = s.approval.compiled()
	if s.exempt.when != nil {
		r.exemptWhen = c.program(s, s.exempt.when, "exempt.when", cel.BoolType)
	}
	if s.action == nil {
		return r
	}
	r.Action = s.action.Value
	specs, ok := c.catalog.Params(r.Action)
	if !ok {
		c.add(s.file, s.action, s.name, "action", "unknown action %q", r.Action)
		return r
	}
	r.params = c.params(s, specs)
	c.scopeAndExempt(s, r, specs)
	return r
}

func (c *compiler) params(s *spec, specs []ParamSpec) []param {
	byName := make(map[string]ParamSpec, len(specs))
	for _, ps := range specs {
		byName[ps.Name] = ps
	}
	given := map[string]bool{}
	var out []param
	for _, p := range s.params {
		field := "params." + p.name
		ps, ok := byName[p.name]
		if !ok {
			c.add(s.file, p.key, s.name, field, "action %s has no parameter %q", s.action.Value, p.name)
			continue
		}
		given[p.name] = true
		if p.bad {
			continue
		}
		pr := param{spec: ps}
		if ps.Pattern != nil {
			pr.valid = newValidValues()
		}
		if p.value != nil {
			if err := ps.Check(p.value.Value); err != nil {
				c.add(s.file, p.value, s.name, field, "%v", err)
				continue
			}
			pr.literal = p.value.Value
		} else if p.policy {
			pr.expr, pr.policy = c.policyProgram(s, p.expr, field+".policy", ps), true
		} else if ps.Literal {
			c.add(s.file, p.expr, s.name, field, "must be a literal or a {policy: ...} lookup: it is configuration, never event data")
			continue
		} else {
			pr.expr = c.program(s, p.expr, field+".expr", cel.StringType)
			if name, ok := strings.CutPrefix(strings.TrimSpace(p.expr.Value), "finding."); ok && pr.expr != nil {
				pr.field = findingStrings[name]
			}
		}
		out = append(out, pr)
	}
	for _, ps := range specs {
		if ps.Required && !given[ps.Name] {
			c.add(s.file, s.action, s.name, "params."+ps.Name, "missing required parameter of %s", s.action.Value)
		}
	}
	return out
}

// program compiles a CEL expression whose result must have type want (or
// dyn, checked when it runs).
func (c *compiler) program(s *spec, n *yaml.Node, field string, want *cel.Type) cel.Program {
	ast, iss := c.env.Compile(n.Value)
	if iss.Err() != nil {
		c.add(s.file, n, s.name, field, "CEL: %s", oneLine(iss.Err().Error()))
		return nil
	}
	out := ast.OutputType()
	if !out.IsExactType(want) && !out.IsExactType(cel.DynType) {
		c.add(s.file, n, s.name, field, "CEL expression has type %s, want %s", out, want)
		return nil
	}
	prg, err := c.env.Program(ast, celLimits(c.env, ast, c.guarded)...)
	if err != nil {
		c.add(s.file, n, s.name, field, "CEL: %s", oneLine(err.Error()))
		return nil
	}
	return prg
}

func oneLine(s string) string {
	s = strings.TrimPrefix(s, "ERROR: ")
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " | ")), " ")
}
