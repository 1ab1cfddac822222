package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

func TestRulesCommands(t *testing.T) {
	t.Parallel()
	runCmd := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := run(context.Background(), args, &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, out := runCmd("rules", "check", "../../rules/builtin"); code != 0 || !strings.Contains(out, "ok: 12 rules") {
		t.Errorf("check builtin: exit %d\n%s", code, out)
	}
	code, out := runCmd("rules", "check", "../../testdata/rules/invalid/several_at_once.yaml")
	if code != 1 || !strings.Contains(out, `rules[a].action: unknown action "nope"`) || !strings.Contains(out, "rules[b].match.typ: unknown field") {
		t.Errorf("check invalid: exit %d\n%s", code, out)
	}
	code, out = runCmd("rules", "test", "../../testdata/rules/tests/builtin.yaml")
	if code != 0 || !strings.Contains(out, "8 cases, 0 failed") || !strings.Contains(out, "plan: huawei-kms-rotation-disabled-cts -> huawei.kms.enable_key_rotation(") {
		t.Errorf("test builtin: exit %d\n%s", code, out)
	}
	dir := t.TempDir()
	writeFile(t, dir+"/t.yaml", "tests:\n  - name: wrong\n    event: "+abs(t, "../../testdata/events/01-huawei-cts-rotation-disabled.json")+"\n    expect: no_match\n")
	if code, out = runCmd("rules", "test", dir); code != 1 || !strings.Contains(out, "FAIL") || !strings.Contains(out, "1 cases, 1 failed") {
		t.Errorf("failing test file: exit %d\n%s", code, out)
	}
	code, out = runCmd("rules", "schema")
	var schema map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &schema) != nil || !strings.Contains(out, "huawei.kms.enable_key_rotation") {
		t.Errorf("schema: exit %d\n%.300s", code, out)
	}
}

// rulesCLI runs the command in-process and returns its exit code, stdout
// and stderr.
func rulesCLI(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestRulesCheckBuiltin: a file holding only a policy (the form the README
// recommends) passes with --builtin, as `run --builtin --rules` loads it,
// and without --builtin fails saying to add it; run fails the same way.
func TestRulesCheckBuiltin(t *testing.T) {
	t.Parallel()
	const policy = "../../testdata/rules/demo"
	if code, out, errs := rulesCLI("rules", "check", "--builtin", policy); code != 0 || out != "ok: 12 rules\n" {
		t.Errorf("check --builtin %s: exit %d\n%s%s", policy, code, out, errs)
	}
	if code, out, errs := rulesCLI("rules", "check", "--builtin"); code != 0 || out != "ok: 12 rules\n" {
		t.Errorf("check --builtin alone: exit %d\n%s%s", code, out, errs)
	}
	code, out, _ := rulesCLI("rules", "check", policy)
	want := "demo-policy.yaml:8:3: the rule set has no rules: this file holds only a policy; load it beside the built-in rule pack with --builtin"
	if code != 1 || !strings.Contains(out, want) {
		t.Errorf("check %s: exit %d\n%s\nwant %q", policy, code, out, want)
	}
	if code, _, errs := rulesCLI("rules", "check"); code != 1 || !strings.Contains(errs, "give rule files or directories (FILE|DIR...), or --builtin") {
		t.Errorf("check with nothing: exit %d\n%s", code, errs)
	}
	// run loads the same way: the same problem, before any event.
	code, _, errs := rulesCLI("run", "--rules", policy, "--data-dir", t.TempDir(), "--embedded-listen", "", "--log-format", "console")
	if code != 1 || !strings.Contains(errs, want) {
		t.Errorf("run --rules %s: exit %d\n%s", policy, code, errs)
	}
}

func TestRulesCheckJSON(t *testing.T) {
	t.Parallel()
	var rep checkReport
	decode := func(out string) {
		t.Helper()
		rep = checkReport{}
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
	}
	code, out, _ := rulesCLI("rules", "check", "-o", "json", "--builtin", "../../testdata/rules/demo")
	decode(out)
	if code != 0 || !rep.OK || len(rep.Rules) != 12 || rep.Rules[0] != "alibaba-ecs-default-key-actiontrail" || len(rep.Problems) != 0 ||
		!strings.Contains(out, `"problems": []`) {
		t.Errorf("ok set: exit %d\n%s", code, out)
	}
	code, out, _ = rulesCLI("rules", "check", "-o", "json", "../../testdata/rules/invalid/several_at_once.yaml")
	decode(out)
	found := false
	for _, p := range rep.Problems {
		found = found || p.File == "../../testdata/rules/invalid/several_at_once.yaml" && p.Line > 0 && p.Column > 0 &&
			p.Rule == "a" && p.Field == "action" && p.Message == `unknown action "nope"`
	}
	if code != 1 || rep.OK || len(rep.Rules) != 0 || len(rep.Problems) < 2 || !found {
		t.Errorf("invalid set: exit %d\n%s", code, out)
	}
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	code, out, _ = rulesCLI("rules", "check", "-o", "json", missing)
	decode(out)
	if code != 1 || len(rep.Problems) != 1 || rep.Problems[0].File != missing || !strings.Contains(rep.Problems[0].Message, "no such file") {
		t.Errorf("missing file: exit %d\n%s", code, out)
	}
	if code, _, errs := rulesCLI("rules", "check", "-o", "yaml", "--builtin"); code != 1 || !strings.Contains(errs, `-o yaml: unknown output format; this command writes text, json`) {
		t.Errorf("-o yaml: exit %d\n%s", code, errs)
	}
}

// TestRulesFileKinds: a test file given to check, a rule file given to
// test, and a directory holding both.
func TestRulesFileKinds(t *testing.T) {
	t.Parallel()
	code, out, _ := rulesCLI("rules", "check", "../../testdata/rules/tests/builtin.yaml")
	if code != 1 || !strings.Contains(out, "builtin.yaml:3:1: this is a rule test file (it has tests:), not a rule file: run it with `remediator rules test") {
		t.Errorf("check of a test file: exit %d\n%s", code, out)
	}
	code, out, _ = rulesCLI("rules", "test", "../../testdata/rules/demo")
	want := `demo-policy.yaml: this is a rule file (it has rules:/policy:), not a rule test file; test files have cases: tests: [`
	if code != 1 || !strings.Contains(out, want) || !strings.Contains(out, `see README "Checking and testing rules offline"`) || strings.Contains(out, "rules.TestFile") {
		t.Errorf("test of a rule directory: exit %d\n%s", code, out)
	}

	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "rules.yaml"), `rules:
  - name: rotate
    match: {type: "KMS:CloudTrace:*"}
    when: finding.drift == "kms.key_rotation_disabled"
    action: huawei.kms.enable_key_rotation
    params: {region: {expr: finding.region}, project_id: {expr: finding.project}, key_id: {expr: finding.resource_id}}
`)
	writeFile(t, filepath.Join(dir, "rules_test.yaml"), "rules: [rules.yaml]\ntests:\n  - name: rotation back on\n    event: "+
		abs(t, "../../testdata/events/01-huawei-cts-rotation-disabled.json")+"\n    expect: [{rule: rotate}]\n")
	code, out, _ = rulesCLI("rules", "test", dir)
	if code != 0 || !strings.Contains(out, "PASS  "+filepath.Join(dir, "rules_test.yaml")+": rotation back on") ||
		!strings.Contains(out, "skip  "+filepath.Join(dir, "rules.yaml")+": a rule file, not a test file") || !strings.Contains(out, "1 cases, 0 failed\n") {
		t.Errorf("test of a mixed directory: exit %d\n%s", code, out)
	}
	code, out, _ = rulesCLI("rules", "test", filepath.Join(dir, "rules.yaml"))
	if code != 1 || !strings.Contains(out, "rules.yaml: this is a rule file") {
		t.Errorf("test of a named rule file: exit %d\n%s", code, out)
	}
	code, out, _ = rulesCLI("rules", "check", dir)
	if code != 1 || !strings.Contains(out, "rules_test.yaml:2:1: this is a rule test file") {
		t.Errorf("check of a mixed directory: exit %d\n%s", code, out)
	}
	if code, out, _ = rulesCLI("rules", "check", filepath.Join(dir, "rules.yaml")); code != 0 || out != "ok: 1 rules\n" {
		t.Errorf("check of the rule file: exit %d\n%s", code, out)
	}
}
