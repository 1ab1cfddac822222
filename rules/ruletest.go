package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/remediator/remediator/events"
)

// TestFile is a file of rule test cases. Rules lists rule files or
// directories (relative to the test file) to test; with none, the built-in
// pack is tested. Builtin adds the built-in pack to Rules.
type TestFile struct {
	Rules   []string   `yaml:"rules"`
	Builtin bool       `yaml:"builtin"`
	Tests   []TestCase `yaml:"tests"`
}

// TestCase is one event and what the rules should make of it.
type TestCase struct {
	Name string `yaml:"name"`
	// Event is a fixture path (relative to the test file); EventInline an
	// event written in the case.
	Event       string         `yaml:"event"`
	EventInline map[string]any `yaml:"event_inline"`
	// Expect is "no_match", or the list of rules that must match.
	Expect Expectation `yaml:"expect"`
}

// Expectation is "no_match" or a list of expected matches.
type Expectation struct {
	NoMatch bool
	Matches []ExpectedMatch
}

// ExpectedMatch is one rule expected to match. Outcome is "act" (the
// default: the action would be called), "planned", "out_of_scope",
// "exempt", "invalid_params" or "rule_error". Params lists the parameters
// to check (others are not compared).
type ExpectedMatch struct {
	Rule    string            `yaml:"rule"`
	Action  string            `yaml:"action"`
	Outcome string            `yaml:"outcome"`
	Params  map[string]string `yaml:"params"`
}

// Outcomes an expected match can name.
var testOutcomes = []string{"act", "planned", "out_of_scope", "exempt", "invalid_params", "rule_error"}

// UnmarshalYAML accepts the string no_match or a list of matches. The
// matches are decoded as strictly as the rest of the file (Node.Decode
// alone would ignore a misspelt key, and the case would check less than
// it says).
func (e *Expectation) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		if n.Value != "no_match" {
			return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: expect is %q: want no_match or a list of expected matches (expect: - rule: NAME)", n.Line, n.Value)}}
		}
		e.NoMatch = true
		return nil
	}
	var errs []string
	if n.Kind == yaml.SequenceNode {
		for _, it := range n.Content {
			errs = append(errs, checkExpectedMatch(deref(it))...)
		}
	}
	if len(errs) > 0 {
		return &yaml.TypeError{Errors: errs}
	}
	return n.Decode(&e.Matches)
}

// checkExpectedMatch reports unknown keys, a missing rule and an unknown
// outcome, as the decoder words its own errors.
func checkExpectedMatch(m *yaml.Node) []string {
	if m.Kind != yaml.MappingNode {
		return nil // the decoder says what is wrong
	}
	var errs []string
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		switch k.Value {
		case "rule", "action", "params":
		case "outcome":
			if !slices.Contains(testOutcomes, v.Value) {
				errs = append(errs, fmt.Sprintf("line %d: outcome %q: want one of %s", v.Line, v.Value, strings.Join(testOutcomes, ", ")))
			}
		default:
			errs = append(errs, fmt.Sprintf("line %d: field %s not found in type rules.ExpectedMatch", k.Line, k.Value))
		}
	}
	if mapKey(m, "rule") == nil {
		errs = append(errs, fmt.Sprintf("line %d: an expected match needs rule: NAME", m.Line))
	}
	return errs
}

// CaseResult is the result of one test case.
type CaseResult struct {
	File     string
	Name     string
	Failures []string
	Plan     []string // what the worker would do, one line per match
	Duration time.Duration
}

// Passed reports whether the case passed.
func (r CaseResult) Passed() bool { return len(r.Failures) == 0 }

// RunTestFiles runs rule test files. The error is for files that cannot be
// read or rules that do not load; failing cases are in the results.
func RunTestFiles(cat Catalog, paths ...string) ([]CaseResult, error) {
	return DefaultLimits().RunTestFiles(cat, paths...)
}

// RunTestFiles is RunTestFiles with the rule files under these limits.
// The error names the file: a *NotTestFileError for a rule file, a
// *LoadError for a test file that cannot be read as one, or the error of
// the rules it names, after the test file's name.
func (l Limits) RunTestFiles(cat Catalog, paths ...string) ([]CaseResult, error) {
	var out []CaseResult
	for _, p := range paths {
		res, err := l.runTestFile(cat, p)
		if err != nil {
			return out, err
		}
		out = append(out, res...)
	}
	return out, nil
}

func (l Limits) runTestFile(cat Catalog, path string) ([]CaseResult, error) {
	b, err := l.readFile(path)
	if err != nil {
		return nil, err
	}
	tf, err := readTestFile(path, b)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	var set *Set
	switch {
	case len(tf.Rules) == 0:
		set, err = Builtin(cat)
	default:
		paths := make([]string, len(tf.Rules))
		for i, r := range tf.Rules {
			paths[i] = relativeTo(dir, r)
		}
		if tf.Builtin {
			set, err = l.LoadWithBuiltin(cat, paths...)
		} else {
			set, err = l.Load(cat, paths...)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: the rules it tests do not load:\n%w", path, err)
	}
	out := make([]CaseResult, 0, len(tf.Tests))
	for i, tc := range tf.Tests {
		name := tc.Name
		if name == "" {
			name = fmt.Sprintf("#%d", i)
		}
		start := time.Now()
		r := runCase(set, dir, path, name, tc)
		r.Duration = time.Since(start)
		out = append(out, r)
	}
	return out, nil
}

func runCase(set *Set, dir, file, name string, tc TestCase) CaseResult {
	res := CaseResult{File: file, Name: name}
	env, err := caseEvent(dir, tc)
	if err != nil {
		res.Failures = append(res.Failures, err.Error())
		return res
	}
	got := map[string]Match{}
	for _, m := range set.Evaluate(env) {
		got[m.Rule.Name] = m
		res.Plan = append(res.Plan, planLine(m))
	}
	if tc.Expect.NoMatch {
		for _, n := range slices.Sorted(maps.Keys(got)) {
			res.Failures = append(res.Failures, "expected no match, but rule "+n+" matched")
		}
		return res
	}
	if len(tc.Expect.Matches) == 0 {
		res.Failures = append(res.Failures, "the case has no expect")
	}
	want := map[string]bool{}
	for _, em := range tc.Expect.Matches {
		want[em.Rule] = true
		m, ok := got[em.Rule]
		if !ok {
			res.Failures = append(res.Failures, "rule "+em.Rule+" did not match")
			continue
		}
		res.Failures = append(res.Failures, compareMatch(em, m)...)
	}
	for _, n := range slices.Sorted(maps.Keys(got)) {
		if !want[n] {
			res.Failures = append(res.Failures, "rule "+n+" matched but is not expected")
		}
	}
	return res
}

func caseEvent(dir string, tc TestCase) (*events.Envelope, error) {
	var body []byte
	switch {
	case tc.Event != "" && tc.EventInline != nil:
		return nil, errors.New("give event or event_inline, not both")
	case tc.Event != "":
		b, err := os.ReadFile(relativeTo(dir, tc.Event))
		if err != nil {
			return nil, err
		}
		body = b
	case tc.EventInline != nil:
		b, err := json.Marshal(tc.EventInline)
		if err != nil {
			return nil, err
		}
		body = b
	default:
		return nil, errors.New("the case has no event")
	}
	env, err := events.DecodeFinding(context.Background(), events.StructuredHeader(), body, events.Normalizer{})
	if err != nil {
		return nil, err
	}
	return env, nil
}

// relativeTo resolves a path written in a test file: relative to the
// file's directory, or as it is when absolute.
func relativeTo(dir, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// Outcome names what the worker makes of the match before any cloud call:
// act (the action is called: it reads, and writes only on drift),
// planned (a dry-run rule: it reads only), out_of_scope, exempt, or
// invalid_params and rule_error (the event is dead-lettered). Rule test
// cases expect these names; `remediator rules eval` prints them.
func (m Match) Outcome() string {
	var pe *ParamError
	switch {
	case m.Err != nil && errors.As(m.Err, &pe):
		return "invalid_params"
	case m.Err != nil:
		return "rule_error"
	case m.Skip != "":
		return string(m.Skip)
	case m.Rule.DryRun:
		return "planned"
	}
	return "act"
}

func compareMatch(em ExpectedMatch, m Match) []string {
	var f []string
	want := em.Outcome
	if want == "" {
		want = "act"
	}
	if got := m.Outcome(); got != want {
		f = append(f, fmt.Sprintf("rule %s: outcome %s, want %s", em.Rule, got, want))
	}
	if em.Action != "" && em.Action != m.Rule.Action {
		f = append(f, fmt.Sprintf("rule %s: action %s, want %s", em.Rule, m.Rule.Action, em.Action))
	}
	for _, k := range slices.Sorted(maps.Keys(em.Params)) {
		if got := m.Params[k]; got != em.Params[k] {
			f = append(f, fmt.Sprintf("rule %s: param %s = %q, want %q", em.Rule, k, got, em.Params[k]))
		}
	}
	return f
}

func planLine(m Match) string {
	o := m.Outcome()
	keys := slices.Sorted(maps.Keys(m.Params))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m.Params[k]
	}
	sort.Strings(parts)
	line := fmt.Sprintf("%s -> %s(%s) [%s]", m.Rule.Name, m.Rule.Action, strings.Join(parts, ", "), o)
	switch {
	case m.Err != nil:
		line += ": " + m.Err.Error()
	case m.SkipReason != "":
		line += ": " + m.SkipReason
	}
	return line
}
