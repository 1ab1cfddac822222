package rules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every enabled rule is, for every fixture, either in Evaluate's matches
// or in Misses, never both: the explanation covers the whole set.
func TestMissesCoverTheSet(t *testing.T) {
	t.Parallel()
	set, err := LoadWithBuiltin(testCatalog, "../testdata/rules/demo")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob("../testdata/events/*.json")
	if len(files) < 10 {
		t.Fatalf("%d fixtures", len(files))
	}
	whens := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		env := decode(t, string(b))
		seen := map[string]int{}
		for _, m := range set.Evaluate(env) {
			seen[m.Rule.Name]++
		}
		for _, m := range set.Misses(env) {
			seen[m.Rule.Name]++
			if m.Reason == MissWhen {
				whens++
			}
			if m.Detail == "" {
				t.Errorf("%s: rule %s missed with no detail", f, m.Rule.Name)
			}
		}
		for _, r := range set.Rules() {
			if seen[r.Name] != 1 {
				t.Errorf("%s: rule %s is in matches and misses %d times in all, want 1", f, r.Name, seen[r.Name])
			}
		}
	}
	if whens == 0 {
		t.Error("no fixture missed a rule on its condition")
	}
}

func TestMissReasons(t *testing.T) {
	t.Parallel()
	set, err := Parse(testCatalog, "m.yaml", []byte(`rules:
  - name: by-type
    match: {type: other}
    action: test.noresource
    params: {region: r}
  - name: by-source
    match: {type: t, source: "acs.*"}
    action: test.noresource
    params: {region: r}
  - name: by-attribute
    match: {type: t, attributes: {subject: "cmk/*"}}
    action: test.noresource
    params: {region: r}
  - name: by-when
    match: {type: t}
    when: data.k == "no"
    action: test.noresource
    params: {region: r}
  - name: matches
    match: {type: t}
    action: test.noresource
    params: {region: r}
`))
	if err != nil {
		t.Fatal(err)
	}
	env := decodeRaw(t, `{"specversion":"1.0","id":"1","source":"HC.KMS","type":"t","subject":"disk/1","data":{"k":"yes"}}`)
	want := []struct {
		rule   string
		reason MissReason
		detail string
	}{
		{"by-type", MissType, "event type t, the rule wants other"},
		{"by-source", MissSource, "event source HC.KMS, the rule wants acs.*"},
		{"by-attribute", MissAttributes, "attribute subject is disk/1, the rule wants cmk/*"},
		{"by-when", MissWhen, "the condition (when, m.yaml:"},
	}
	got := set.Misses(env)
	if len(got) != len(want) {
		t.Fatalf("%d misses, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		if got[i].Rule.Name != w.rule || got[i].Reason != w.reason || !strings.Contains(got[i].Detail, w.detail) {
			t.Errorf("miss %d: %s %s %q, want %s %s %q", i, got[i].Rule.Name, got[i].Reason, got[i].Detail, w.rule, w.reason, w.detail)
		}
	}
}
