package rules

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuiltinPackTests runs the built-in pack's test file, as
// `remediator rules test` does.
func TestBuiltinPackTests(t *testing.T) {
	t.Parallel()
	results, err := RunTestFiles(testCatalog, "../testdata/rules/tests/builtin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(results) < 7 {
		t.Fatalf("%d cases ran", len(results))
	}
	for _, r := range results {
		if !r.Passed() {
			t.Errorf("%s: %v", r.Name, r.Failures)
		}
	}
}

func TestRuleTestFailuresAreReported(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, src string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("rules.yaml", `rules:
  - name: r
    match: {type: t}
    action: huawei.kms.enable_key_rotation
    params: {region: r, project_id: p, key_id: {expr: data.k}}
`)
	write("event.json", `{"specversion":"1.0","id":"1","source":"s","type":"t","data":{"k":"0d0466b0-e727-4d9c-b35d-f84bb474a37f"}}`)
	write("t.yaml", `rules: [rules.yaml]
tests:
  - name: wrong param
    event: event.json
    expect: [{rule: r, params: {key_id: other}}]
  - name: wrongly expects no match
    event: event.json
    expect: no_match
  - name: wrong outcome
    event: event.json
    expect: [{rule: r, outcome: exempt}]
  - name: expects a rule that does not match
    event_inline: {specversion: "1.0", id: "2", source: s, type: other}
    expect: [{rule: r}]
  - name: passes
    event: event.json
    expect: [{rule: r, action: huawei.kms.enable_key_rotation}]
`)
	results, err := RunTestFiles(testCatalog, filepath.Join(dir, "t.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`param key_id = "0d0466b0-e727-4d9c-b35d-f84bb474a37f", want "other"`, "expected no match, but rule r matched",
		"outcome act, want exempt", "rule r did not match", ""}
	for i, r := range results {
		got := strings.Join(r.Failures, "; ")
		if want[i] == "" && got != "" || !strings.Contains(got, want[i]) {
			t.Errorf("case %q failures %q, want %q", r.Name, got, want[i])
		}
	}
}

// A file that is not a usable test file is an error naming the file, the
// line and the form expected, never the decoder's Go types.
func TestRuleTestFileErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ev := "../../testdata/events/01-huawei-cts-rotation-disabled.json"
	if abs, err := filepath.Abs("../testdata/events/01-huawei-cts-rotation-disabled.json"); err == nil {
		ev = abs
	}
	cases := []struct{ name, src, want string }{
		{"rule_file", "rules:\n  - name: r\n    match: {type: t}\n    action: a\n",
			"rule_file.yaml: this is a rule file (it has rules:/policy:), not a rule test file; test files have cases: tests: ["},
		{"policy_file", "policy:\n  a: b\nrules: []\n", "policy_file.yaml: this is a rule file"},
		{"unknown_top", "rules: []\ntest:\n  - name: x\n", "unknown_top.yaml:2:1: unknown field test: a test file has rules, builtin and tests"},
		{"unknown_case_field", "tests:\n  - name: x\n    evnt: " + ev + "\n    expect: no_match\n",
			"unknown_case_field.yaml:3:1: unknown field evnt: a case has name, event (or event_inline) and expect"},
		{"unknown_match_field", "tests:\n  - name: x\n    event: " + ev + "\n    expect:\n      - rule: r\n        parms: {a: b}\n",
			"unknown_match_field.yaml:6:1: unknown field parms: an expected match has rule, action, outcome and params"},
		{"bad_outcome", "tests:\n  - name: x\n    event: " + ev + "\n    expect: [{rule: r, outcome: acted}]\n",
			`bad_outcome.yaml:4:1: outcome "acted": want one of act, planned, out_of_scope, exempt, invalid_params, rule_error`},
		{"no_rule", "tests:\n  - name: x\n    event: " + ev + "\n    expect: [{action: a}]\n", "no_rule.yaml:4:1: an expected match needs rule: NAME"},
		{"bad_expect", "tests:\n  - name: x\n    event: " + ev + "\n    expect: nothing\n",
			`bad_expect.yaml:4:1: expect is "nothing": want no_match or a list of expected matches`},
		{"expect_mapping", "tests:\n  - name: x\n    event: " + ev + "\n    expect: {rule: r}\n",
			"expect_mapping.yaml:4:1: got a mapping, want no_match or a list of expected matches"},
		{"tests_string", "tests: all\n", `tests_string.yaml:1:1: got string "all", want a list of cases`},
		{"builtin_string", "builtin: maybe\ntests:\n  - name: x\n    expect: no_match\n", `builtin_string.yaml:1:1: got string "maybe", want true or false`},
		{"empty", "# nothing\n", "empty.yaml:1:1: the file is empty"},
		{"no_cases", "rules: [x.yaml]\n", "no_cases.yaml:1:1: the file has no cases"},
		{"syntax", "tests:\n  - name: [x\n", "syntax.yaml:1:1: YAML: did not find expected"}, // the line is the YAML parser's
	}
	for _, tc := range cases {
		path := filepath.Join(dir, tc.name+".yaml")
		if err := os.WriteFile(path, []byte(tc.src), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := RunTestFiles(testCatalog, path)
		got := ""
		if err != nil {
			got = strings.ReplaceAll(err.Error(), dir+string(filepath.Separator), "")
		}
		if !strings.Contains(got, tc.want) || strings.Contains(got, "rules.") {
			t.Errorf("%s: error\n%s\nwant it to contain\n%s", tc.name, got, tc.want)
		}
		var nt *NotTestFileError
		if isRule := strings.HasSuffix(tc.name, "_file"); errors.As(err, &nt) != isRule {
			t.Errorf("%s: *NotTestFileError %v, want %v", tc.name, !isRule, isRule)
		}
	}
}
