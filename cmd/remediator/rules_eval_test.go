package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// evalJSON runs `rules eval -o json` and decodes its lines.
func evalJSON(t *testing.T, args ...string) (int, []evalResult, string) {
	t.Helper()
	code, out, errs := rulesCLI(append([]string{"rules", "eval", "-o", "json"}, args...)...)
	var res []evalResult
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r evalResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		res = append(res, r)
	}
	return code, res, errs
}

// TestRulesEvalFixtures evaluates every fixture with the demo's rules and
// policy. What the demo reaches through the simulator (TestDemo, the table
// in testdata/events/README.md) is, before the cloud call, act for every
// remediated, already_compliant or not_found event, and the same no_match
// and invalid_params.
func TestRulesEvalFixtures(t *testing.T) {
	t.Parallel()
	want := map[string]struct{ form, outcome, reason, rule string }{
		"01": {"cts", "act", "", "huawei-kms-rotation-disabled-cts"},
		"02": {"cts", "act", "", "huawei-kms-rotation-disabled-cts"},
		"03": {"finding", "act", "", "huawei-kms-rotation-disabled-finding"},
		"04": {"cts", "no_match", "", ""},
		"05": {"cts", "no_match", "", ""},
		"06": {"cts", "act", "", "huawei-kms-rotation-disabled-cts"},
		"07": {"finding", "dead_lettered", "invalid_params", "huawei-kms-rotation-disabled-finding"},
		"08": {"finding", "act", "", "huawei-kms-disable-key-finding"},
		"09": {"finding", "act", "", "huawei-kms-disable-key-finding"},
		"10": {"actiontrail", "act", "", "alibaba-ecs-default-key-actiontrail"},
		"11": {"finding", "act", "", "alibaba-ecs-default-key-finding"},
		"12": {"finding", "act", "", "alibaba-ecs-service-key-finding"},
		"13": {"finding", "act", "", "alibaba-ecs-service-key-finding"},
		"14": {"finding", "act", "", "huawei-evs-default-key-finding"},
		"15": {"finding", "act", "", "huawei-evs-default-key-finding"},
		"16": {"config", "no_match", "", ""},
		"17": {"config", "no_match", "", ""},
		"18": {"actiontrail", "no_match", "", ""},
	}
	files, _ := filepath.Glob("../../testdata/events/*.json")
	if len(files) != len(want) {
		t.Fatalf("%d fixtures, the table has %d", len(files), len(want))
	}
	code, res, errs := evalJSON(t, append([]string{"--builtin", "--rules", "../../testdata/rules/demo"}, files...)...)
	if code != 1 || len(res) != len(files) { // 07 would be dead-lettered
		t.Fatalf("exit %d, %d results\n%s", code, len(res), errs)
	}
	for i, r := range res {
		w := want[filepath.Base(files[i])[:2]]
		got := struct{ form, outcome, reason, rule string }{r.Form, r.Outcome, r.Reason, ""}
		if len(r.Matches) > 0 {
			got.rule = r.Matches[0].Rule
		}
		if got != w || r.Origin != files[i] || r.Mode != "structured" || r.Finding == nil || r.Trusted == nil || !*r.Trusted ||
			len(r.Matches)+len(r.Missed) != 12 {
			t.Errorf("%s: %+v, want %+v\n%+v", files[i], got, w, r)
		}
	}
	if m := res[9].Matches[0]; m.Action != "alibaba.ecs.modify_disk_default_kms_key" || m.Params["kms_key_id"] != "key-hzzapproved000000000001" ||
		m.Params["region"] != "cn-hangzhou" || m.Resource != "cn-hangzhou" || !strings.HasPrefix(m.File, "rules/builtin/alibaba.yaml:") {
		t.Errorf("10: match %+v", m)
	}
	if !strings.Contains(res[6].Detail, `parameter key_id: "alias/app-data" does not match`) {
		t.Errorf("07: detail %q", res[6].Detail)
	}
	whenFalse := false // 18: a failed call reaches the rule for its type and fails its condition
	for _, m := range res[17].Missed {
		whenFalse = whenFalse || m.Rule == "alibaba-ecs-default-key-actiontrail" && m.Reason == "when" && strings.Contains(m.Detail, "is false")
	}
	if !whenFalse {
		t.Errorf("18: not_matched %+v", res[17].Missed)
	}
}

func TestRulesEvalOutcomes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	at := "../../testdata/events/10-alibaba-actiontrail-modify-default-key.json"
	event := func(name, src string) string {
		p := filepath.Join(dir, name)
		writeFile(t, p, src)
		return p
	}
	demo := []string{"--builtin", "--rules", "../../testdata/rules/demo"}
	cases := []struct {
		name    string
		args    []string
		code    int
		outcome string
		reason  string
		detail  string
	}{
		{"not JSON", []string{event("bad.json", `{"specversion":"1.0","id":"x"`)}, 1, "dead_lettered", "invalid_event", "invalid event: body is not a JSON object"},
		{"not a CloudEvent", []string{event("nosource.json", `{"specversion":"1.0","id":"x","type":"t"}`)}, 1, "dead_lettered", "invalid_event", "invalid event: not a valid CloudEvent"},
		{"a known form without its region", []string{event("noregion.json",
			`{"specversion":"1.0","id":"x","source":"s","type":"remediator.finding.kms.key_rotation_disabled","data":{"provider":"huawei"}}`)},
			1, "dead_lettered", "invalid_event", "region is missing"},
		{"no rule for the type", []string{event("other.json", `{"specversion":"1.0","id":"x","source":"s","type":"com.example.other"}`)}, 0, "no_match", "", ""},
		{"untrusted source", append([]string{"--trusted-source", "HC.*", at}, demo...), 0, "untrusted", "untrusted", "source acs.ecs is not trusted"},
		{"untrusted account", append([]string{"--trusted-account", "999", at}, demo...), 0, "untrusted", "untrusted", "account 1234567890123456 is not trusted"},
		{"trusted", append([]string{"--trusted-source", "acs.*", "--trusted-account", "1234567890123456", at}, demo...), 0, "act", "", "the worker would call alibaba.ecs.modify_disk_default_kms_key"},
		{"the worker's own change", append([]string{"--self-principal", "dev-bob", at}, demo...), 0, "no_match", "", "the worker's own principals"},
		{"no policy for the region", append([]string{event("eu.json", `{"specversion":"1.0","id":"x","source":"urn:scanner","type":"remediator.finding.disk.default_key_drifted",
			"data":{"provider":"alibaba","account":"1234567890123456","region":"eu-central-1"}}`)}, demo...), 0, "out_of_scope", "", "no policy entry for kms_key_id"},
		{"too large", []string{"--max-event-bytes", "100", at}, 1, "dead_lettered", "too_large", "the limit is 100 (--max-event-bytes)"},
	}
	for _, tc := range cases {
		code, res, errs := evalJSON(t, tc.args...)
		if code != tc.code || len(res) != 1 {
			t.Errorf("%s: exit %d, %d results, want %d, 1\n%s", tc.name, code, len(res), tc.code, errs)
			continue
		}
		if r := res[0]; r.Outcome != tc.outcome || r.Reason != tc.reason || !strings.Contains(r.Detail, tc.detail) {
			t.Errorf("%s: outcome %s reason %s detail %q, want %s %s %q", tc.name, r.Outcome, r.Reason, r.Detail, tc.outcome, tc.reason, tc.detail)
		}
	}

	// An event that decodes but whose form does not read is still named,
	// with form invalid; one that does not decode names nothing.
	_, res, _ := evalJSON(t, filepath.Join(dir, "noregion.json"), filepath.Join(dir, "bad.json"))
	if len(res) != 2 || res[0].Form != "invalid" || res[0].ID != "x" || res[0].Source != "s" || res[0].Mode != "structured" ||
		res[1].Form != "" || res[1].ID != "" || res[1].Mode != "" {
		t.Errorf("what is named: %+v", res)
	}

	// A dry-run rule plans.
	rules := event("dry.yaml", "rules:\n  - name: dry\n    match: {type: t}\n    dry_run: true\n    action: alibaba.ecs.reset_disk_default_kms_key\n    params: {region: cn-hangzhou}\n")
	if code, res, errs := evalJSON(t, "--rules", rules, event("t.json", `{"specversion":"1.0","id":"x","source":"s","type":"t"}`)); code != 0 || len(res) != 1 ||
		res[0].Outcome != "planned" || res[0].Form != "none" || res[0].Finding != nil || res[0].Matches[0].Outcome != "planned" {
		t.Errorf("dry run: exit %d %+v\n%s", code, res, errs)
	}
	// What cannot be read is an error, not an outcome.
	missing := filepath.Join(dir, "missing.json")
	if code, _, errs := rulesCLI("rules", "eval", missing); code != 1 || !strings.Contains(errs, "cannot read the event file: open "+missing+": no such file") {
		t.Errorf("missing file: exit %d\n%s", code, errs)
	}
	if code, _, errs := rulesCLI("rules", "eval", "--rules", "../../testdata/rules/demo", at); code != 1 || !strings.Contains(errs, "rules:\n") ||
		!strings.Contains(errs, "with --builtin") {
		t.Errorf("rules that do not load: exit %d\n%s", code, errs)
	}
	// A JSON array: one result per event.
	a, _ := os.ReadFile(at)
	arr := event("two.json", "["+string(a)+",\n"+string(a)+"]")
	if code, res, _ := evalJSON(t, append([]string{arr}, demo...)...); code != 0 || len(res) != 2 || res[1].Origin != arr+"[1]" || res[1].Outcome != "act" {
		t.Errorf("array: exit %d %+v", code, res)
	}
}

// TestRulesEvalText checks the text a person reads, and that eval reads
// JSON Lines on stdin, through the real binary.
func TestRulesEvalText(t *testing.T) {
	t.Parallel()
	code, out, errs := rulesCLI("rules", "eval", "--builtin", "--rules", "../../testdata/rules/demo", "../../testdata/events/10-alibaba-actiontrail-modify-default-key.json")
	for _, want := range []string{
		"== ../../testdata/events/10-alibaba-actiontrail-modify-default-key.json\n",
		"event     id 45ef4dewq-6f0b-4d8e-9a51-actiontrail10, source acs.ecs, type ecs:ActionTrail:ApiCall\n",
		"mode      structured\n",
		"form      actiontrail: Alibaba ActionTrail API call\n",
		"finding   provider alibaba, account 1234567890123456, region cn-hangzhou, project -\n",
		"trust     ok\n",
		"match     alibaba-ecs-default-key-actiontrail (rules/builtin/alibaba.yaml:",
		"-> alibaba.ecs.modify_disk_default_kms_key(account=1234567890123456, kms_key_id=key-hzzapproved000000000001, region=cn-hangzhou): act\n",
		"no match  alibaba-ecs-service-key-actiontrail: when: the condition (when, rules/builtin/alibaba.yaml:",
		"no match  10 rules are for other event types\n",
		"outcome   act: the worker would call alibaba.ecs.modify_disk_default_kms_key (no cloud call was made here)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text lacks %q", want)
		}
	}
	if code != 0 || t.Failed() {
		t.Fatalf("exit %d\n%s%s", code, out, errs)
	}

	var lines bytes.Buffer
	for _, f := range []string{"01-huawei-cts-rotation-disabled.json", "05-huawei-cts-enable-key.json"} {
		b, err := os.ReadFile("../../testdata/events/" + f)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		_ = json.Unmarshal(b, &v)
		c, _ := json.Marshal(v)
		lines.Write(append(c, '\n'))
	}
	lines.WriteString("\n{not json}\n")
	cmd := exec.Command(os.Args[0], "rules", "eval", "-o", "json", "-")
	cmd.Env = append(os.Environ(), "REMEDIATOR_TEST_MAIN=1")
	cmd.Stdin = &lines
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	ee, _ := err.(*exec.ExitError)
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var r evalResult
		if json.Unmarshal([]byte(l), &r) != nil {
			t.Fatalf("not JSON: %q", l)
		}
		got = append(got, r.Origin+" "+r.Outcome+" "+r.Reason)
	}
	want := "-:1 act |-:2 no_match |-:4 dead_lettered invalid_event"
	if ee == nil || ee.ExitCode() != 1 || strings.Join(got, "|") != want {
		t.Errorf("stdin: %v, results %q, want %q\n%s", err, strings.Join(got, "|"), want, stderr.String())
	}
}
