package main

import (
	"bytes"
	"context"
	"encoding/json"
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
