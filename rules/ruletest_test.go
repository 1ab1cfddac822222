package rules

import (
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
