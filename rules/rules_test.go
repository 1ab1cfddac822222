package rules

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/remediator/remediator/events"
)

var keyID = regexp.MustCompile(`^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}$`)

var (
	region  = ParamSpec{Name: "region", Type: String, Required: true}
	project = ParamSpec{Name: "project_id", Type: String, Required: true}
	account = ParamSpec{Name: "account", Type: String}
	kmsKey  = ParamSpec{Name: "key_id", Type: String, Required: true, Pattern: keyID, Resource: true}
)

// testCatalog mirrors the worker's actions' parameters.
var testCatalog = CatalogMap{
	"alibaba.ecs.modify_disk_default_kms_key": {
		{Name: "region", Type: String, Required: true, Resource: true}, account,
		{Name: "kms_key_id", Type: String, Required: true, Literal: true},
	},
	"alibaba.ecs.reset_disk_default_kms_key": {{Name: "region", Type: String, Required: true, Resource: true}, account},
	"huawei.kms.disable_key": {region, project, account, kmsKey,
		{Name: "allowed_key_ids", Type: String, Required: true, Literal: true}},
	"huawei.kms.enable_key_rotation": {region, project, account, kmsKey},
	"huawei.kms.cancel_key_deletion": {region, project, account, kmsKey},
	"test.noresource":                {region},
	"huawei.evs.update_default_kms_key": {region, {Name: "project_id", Type: String, Required: true, Resource: true}, account,
		{Name: "kms_key_id", Type: String, Required: true, Literal: true, Pattern: keyID}},
}

func decode(t testing.TB, body string) *events.Envelope {
	t.Helper()
	env, err := events.Decode(context.Background(), nil, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if env.Finding, err = (events.Normalizer{}).Normalize(env); err != nil {
		t.Fatal(err)
	}
	return env
}

const ctsEvent = `{"specversion":"1.0","id":"1","source":"HC.KMS","type":"KMS:CloudTrace:ApiCall",
"data":{"trace_name":"disableKeyRotation","code":"200","region_id":"cn-north-4",
"project_id":"0b5a7f3c2d8e4b1a9c6d5e4f3a2b1c0d","resource_id":"0d0466b0-e727-4d9c-b35d-f84bb474a37f"}}`

func TestBuiltinMatches(t *testing.T) {
	t.Parallel()
	set, err := Builtin(testCatalog)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, body, rule string
	}{
		{"cts api call", ctsEvent, "huawei-kms-rotation-disabled-cts"},
		{"cts numeric code", strings.Replace(ctsEvent, `"200"`, `200`, 1), "huawei-kms-rotation-disabled-cts"},
		{"cts console", strings.Replace(ctsEvent, "ApiCall", "ConsoleAction", 1), "huawei-kms-rotation-disabled-cts"},
		{"cts failed call", strings.Replace(ctsEvent, `"200"`, `"403"`, 1), ""},
		{"cts other trace", strings.Replace(ctsEvent, "disableKeyRotation", "enableKeyRotation", 1), ""},
		{"cts other source", strings.Replace(ctsEvent, "HC.KMS", "HC.OBS", 1), ""},
		{"finding", `{"specversion":"1.0","id":"2","source":"scanner","type":"remediator.finding.kms.key_rotation_disabled",
"data":{"provider":"huawei","region":"cn-north-4","project_id":"0b5a7f3c2d8e4b1a9c6d5e4f3a2b1c0d","resource_id":"0d0466b0-e727-4d9c-b35d-f84bb474a37f"}}`, "huawei-kms-rotation-disabled-finding"},
		{"unrelated type", `{"specversion":"1.0","id":"3","source":"x","type":"com.example.other"}`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ms := set.Evaluate(decode(t, tc.body))
			if tc.rule == "" {
				if len(ms) != 0 {
					t.Fatalf("matched %s, want no match", ms[0].Rule.Name)
				}
				return
			}
			if len(ms) != 1 || ms[0].Rule.Name != tc.rule || ms[0].Err != nil {
				t.Fatalf("matches = %+v, want exactly %s", ms, tc.rule)
			}
			if ms[0].Params["key_id"] != "0d0466b0-e727-4d9c-b35d-f84bb474a37f" || ms[0].Params["region"] != "cn-north-4" {
				t.Errorf("params = %v", ms[0].Params)
			}
		})
	}
}

func TestEvaluateParamErrors(t *testing.T) {
	t.Parallel()
	set, err := Builtin(testCatalog)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(ctsEvent, "0d0466b0-e727-4d9c-b35d-f84bb474a37f", "NOT-A-KEY", 1)
	ms := set.Evaluate(decode(t, bad))
	var pe *ParamError
	if len(ms) != 1 || !errors.As(ms[0].Err, &pe) || pe.Param != "key_id" {
		t.Fatalf("want a key_id ParamError, got %+v", ms)
	}
	badProject := strings.Replace(ctsEvent, "0b5a7f3c2d8e4b1a9c6d5e4f3a2b1c0d", "", 1)
	if _, err := (events.Normalizer{}).Normalize(decodeRaw(t, badProject)); err == nil {
		t.Fatal("a CTS trace without a project must not normalise")
	}
}

func TestLoadProblems(t *testing.T) {
	t.Parallel()
	const head = "rules:\n  - name: r\n    match: {type: t}\n    action: huawei.kms.enable_key_rotation\n"
	const okParams = "    params: {region: r, project_id: p, key_id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f}\n"
	cases := []struct{ name, src, want string }{
		{"unknown key", head + okParams + "    whne: true\n", "f.yaml:6:5: rules[r].whne: unknown field"},
		{"unknown top key", "rulez: []\n", "f.yaml:1:1: rulez: unknown field"},
		{"wrong type", head + okParams + "    enabled: yes please\n", `f.yaml:6:14: rules[r].enabled: must be a boolean, got string "yes please"`},
		{"unknown action", strings.Replace(head, "huawei.kms.enable_key_rotation", "aws.nope", 1), `f.yaml:4:13: rules[r].action: unknown action "aws.nope"`},
		{"missing param", head + "    params: {region: r, project_id: p}\n", "f.yaml:4:13: rules[r].params.key_id: missing required parameter of huawei.kms.enable_key_rotation"},
		{"bad literal", head + "    params: {region: r, project_id: p, key_id: KEY}\n", `f.yaml:5:48: rules[r].params.key_id: "KEY" does not match`},
		{"unknown param", head + okParams[:len(okParams)-2] + ", color: red}\n", `rules[r].params.color: action huawei.kms.enable_key_rotation has no parameter "color"`},
		{"cel syntax", head + okParams + "    when: data.x ==\n", "f.yaml:6:11: rules[r].when: CEL: <input>:1:10: Syntax error"},
		{"cel type", head + okParams + "    when: '\"x\"'\n", "f.yaml:6:11: rules[r].when: CEL expression has type string, want bool"},
		{"cel unknown var", head + okParams + "    when: secret == 1\n", "undeclared reference to 'secret'"},
		{"duplicate", head + okParams + strings.TrimPrefix(head, "rules:\n") + okParams, "f.yaml:6:5: rules[r].name: duplicate rule name (first defined at f.yaml:2)"},
		{"no name", "rules:\n  - match: {type: t}\n    action: huawei.kms.enable_key_rotation\n" + okParams, "f.yaml:2:5: rules[#0].name: is required"},
		{"literal only", "rules:\n  - name: r\n    match: {type: t}\n    action: alibaba.ecs.modify_disk_default_kms_key\n    params: {region: r, kms_key_id: {expr: data.key}}\n",
			"f.yaml:5:44: rules[r].params.kms_key_id: must be a literal or a {policy: ...} lookup: it is configuration, never event data"},
		{"not yaml", "rules: [\n", "f.yaml:1:1: YAML: did not find expected node content"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(testCatalog, "f.yaml", []byte(tc.src))
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want *LoadError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err =\n%s\nwant it to contain\n%s", err, tc.want)
			}
		})
	}
}

func TestLoadReportsAllProblems(t *testing.T) {
	t.Parallel()
	src := "rules:\n  - name: a\n    match: {type: t}\n    action: nope\n  - name: b\n    match: {type: t}\n    action: nope2\n    extra: 1\n"
	_, err := Parse(testCatalog, "f.yaml", []byte(src))
	var le *LoadError
	if !errors.As(err, &le) || len(le.Problems) != 3 {
		t.Fatalf("want 3 problems, got %v", err)
	}
}

func TestCostLimit(t *testing.T) {
	t.Parallel()
	src := `rules:
  - name: runaway
    match: {type: t}
    when: "[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, a+b+c+d+e > 0)))))"
    action: huawei.kms.enable_key_rotation
    params: {region: r, project_id: p, key_id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f}
`
	set, err := Parse(testCatalog, "f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	ms := set.Evaluate(decode(t, `{"specversion":"1.0","id":"1","source":"s","type":"t"}`))
	var ee *EvalError
	if len(ms) != 1 || !errors.As(ms[0].Err, &ee) || !strings.Contains(ee.Error(), "cost") {
		t.Fatalf("want a cost-limit EvalError, got %+v", ms)
	}
}

func TestGlob(t *testing.T) {
	t.Parallel()
	cases := []struct {
		p, s string
		want bool
	}{
		{"KMS:CloudTrace:*", "KMS:CloudTrace:ApiCall", true},
		{"KMS:CloudTrace:*", "EVS:CloudTrace:ApiCall", false},
		{"*:ActionTrail:ApiCall", "ecs:ActionTrail:ApiCall", true},
		{"acs.*", "acs.ecs", true},
		{"a?c", "abc", true},
		{"a?c", "abbc", false},
		{"*a*b", "xxaxxb", true},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"", "anything", true},
	}
	for _, tc := range cases {
		if got := compileGlob(tc.p).match(tc.s); got != tc.want {
			t.Errorf("glob %q on %q = %v, want %v", tc.p, tc.s, got, tc.want)
		}
	}
}

func decodeRaw(t testing.TB, body string) *events.Envelope {
	t.Helper()
	env, err := events.Decode(context.Background(), nil, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// A parameter that is just finding.<field> is read without CEL; it must
// give what CEL gives, with a finding and without one.
func TestFindingFieldParams(t *testing.T) {
	t.Parallel()
	env, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	f := &events.Finding{Form: "f1", Provider: "f2", Account: "f3", Region: "f4", Project: "f5", ResourceType: "f6",
		ResourceID: "f7", Drift: "f8", Operation: "f9"}
	for name, read := range findingStrings {
		ast, iss := env.Compile("finding." + name)
		if iss.Err() != nil {
			t.Fatal(iss.Err())
		}
		prg, err := env.Program(ast)
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range []*events.Finding{f, nil} {
			m := noFinding
			if fd != nil {
				m = fd.Map()
			}
			// CEL over the map Finding.Map gives, as rules saw it before
			// any fast path.
			v, _, err := prg.Eval(map[string]any{"finding": m})
			if err != nil {
				t.Fatalf("finding.%s: %v", name, err)
			}
			want, err := stringValue(v)
			if err != nil {
				t.Fatal(err)
			}
			vars := &activation{env: &events.Envelope{Finding: fd}}
			got, err := (param{expr: prg, field: read}).value(vars)
			if err != nil || got != want {
				t.Errorf("finding.%s with finding %v: fast path %q (%v), CEL %q", name, fd != nil, got, err, want)
			}
		}
	}
	src := `rules:
  - name: r
    match: {type: t}
    action: huawei.kms.enable_key_rotation
    params: {region: {expr: finding.region}, project_id: {expr: " finding.project "}, key_id: {expr: "finding.resource_id + ''"}}
`
	set, err := Parse(testCatalog, "f.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	fast := map[string]bool{}
	for _, p := range set.Rules()[0].params {
		fast[p.spec.Name] = p.field != nil
	}
	if !fast["region"] || !fast["project_id"] || fast["key_id"] {
		t.Errorf("fast path taken: %v; want region and project_id only", fast)
	}
}

// Only expressions whose worst case is within CostLimit run untracked.
func TestBoundedCost(t *testing.T) {
	t.Parallel()
	env, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	for expr, want := range map[string]bool{
		`finding.drift == "kms.key_rotation_disabled" && !finding.self`: true,
		`finding.region`: true,
		`data.trace_name == "x" && (data.code == 200 || data.code == "200")`:      true,
		`data.items.all(x, x == "a")`:                                             false, // as long as the event's list
		`finding.resource_id in policy.allow[finding.region].split(",")`:          false, // as long as the policy entry
		`[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, a + b > 0))`: true,
		`data.name.matches("^(a+)+$")`:                                            false,
		`[1,2,3,4,5,6,7,8,9,10].all(a, [1,2,3,4,5,6,7,8,9,10].all(b, [1,2,3,4,5,6,7,8,9,10].all(c, [1,2,3,4,5,6,7,8,9,10].all(d, [1,2,3,4,5,6,7,8,9,10].all(e, a+b+c+d+e > 0)))))`: false,
	} {
		ast, iss := env.Compile(expr)
		if iss.Err() != nil {
			t.Fatal(iss.Err())
		}
		if got := boundedCost(env, ast); got != want {
			t.Errorf("boundedCost(%s) = %t, want %t", expr, got, want)
		}
	}
}

// A value that passed a parameter's pattern is remembered; one that did
// not is checked, and refused, every time.
func TestParamCheckRemembersOnlyValidValues(t *testing.T) {
	t.Parallel()
	p := param{spec: kmsKey, valid: newValidValues()}
	good, bad := "0d0466b0-e727-4d9c-b35d-f84bb474a37f", "not-a-key"
	for range 3 {
		if err := p.check(good); err != nil {
			t.Fatal(err)
		}
		if err := p.check(bad); err == nil {
			t.Fatal("an invalid value passed")
		}
	}
	if !p.valid.has(good) || p.valid.has(bad) {
		t.Errorf("remembered: good %t, bad %t", p.valid.has(good), p.valid.has(bad))
	}
	for i := range 1000 { // churn: every slot replaced, answers still right
		_ = p.check(fmt.Sprintf("%08x-e727-4d9c-b35d-f84bb474a37f", i))
	}
	if err := p.check(bad); err == nil {
		t.Fatal("an invalid value passed after churn")
	}
}
