package rules

import (
	"strings"
	"testing"
)

// TestWhenPrefilterKeepsResults: a rule's prefilter (its when condition's
// bounded conjuncts, tested first without cost tracking) never changes
// what the condition decides on events within the cost limit: for every
// condition and event, evaluate matches or not, and fails or not, exactly
// as the condition run alone does.
func TestWhenPrefilterKeepsResults(t *testing.T) {
	t.Parallel()
	conds := []string{
		`finding.drift == "kms.key_rotation_disabled" && data.items.exists(i, i == "x")`,
		`data.items.exists(i, i == "x") && finding.provider == "huawei"`,
		`data.missing == "a" && finding.drift == "nope" && data.items.exists(i, i == "x")`,      // error && false: false
		`data.missing == "a" && finding.provider == "huawei" && data.items.exists(i, i == "x")`, // error && true: the error
		`finding.region in ["cn-north-4"] && data.s + data.s == "xx" && !finding.self`,
		`(finding.provider == "huawei" || data.x == 1) && data.items.exists(i, i == "y")`,
		`has(data.items) && data.items.all(i, i.size() < 3) && finding.resource_id.startsWith("0d")`,
		`data.s + data.s == "xx"`,                                   // no conjunction: no guard
		`data.items.exists(i, i == "x") && data.s + data.s == "xx"`, // no bounded conjunct: no guard
		`finding.provider == "huawei" && data.items.size() > 1`,     // bounded itself: no guard
	}
	evs := []string{
		`{"specversion":"1.0","id":"1","source":"HC.KMS","type":"KMS:CloudTrace:ApiCall","data":{"trace_name":"disableKeyRotation","code":"200","region_id":"cn-north-4","project_id":"p","resource_id":"0d0466b0-e727-4d9c-b35d-f84bb474a37f","items":["x","y"],"s":"x"}}`,
		`{"specversion":"1.0","id":"2","source":"HC.KMS","type":"KMS:CloudTrace:ApiCall","data":{"trace_name":"disableKeyRotation","code":"200","region_id":"cn-north-4","project_id":"p","resource_id":"0d0466b0-e727-4d9c-b35d-f84bb474a37f","items":["y"],"s":"y"}}`,
		`{"specversion":"1.0","id":"3","source":"HC.KMS","type":"KMS:CloudTrace:ApiCall","data":{"trace_name":"enableKeyRotation","code":"200","region_id":"ap-southeast-1","project_id":"p","resource_id":"1d0466b0-e727-4d9c-b35d-f84bb474a37f","s":"x"}}`,
		`{"specversion":"1.0","id":"4","source":"HC.KMS","type":"KMS:CloudTrace:ApiCall","data":{"trace_name":"disableKeyRotation","code":"200","region_id":"cn-north-4","project_id":"p","resource_id":"0d0466b0-e727-4d9c-b35d-f84bb474a37f","items":"not a list","x":1}}`,
	}
	guarded := 0
	for _, cond := range conds {
		set, err := Parse(testCatalog, "g.yaml", []byte(`rules:
  - name: r
    match: {type: "KMS:CloudTrace:*", source: HC.KMS}
    when: '`+cond+`'
    action: huawei.kms.enable_key_rotation
    params: {region: r, project_id: p, key_id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f}
`))
		if err != nil {
			t.Fatalf("%s: %v", cond, err)
		}
		r := set.Rules()[0]
		if r.whenPrefilter != nil {
			guarded++
		}
		for _, ev := range evs {
			env := decode(t, ev)
			vars := &activation{env: env, policy: set.policy}
			v, _, err := r.when.Eval(vars) // the condition alone
			want, wantErr := err == nil && v.Value() == true, err != nil
			ms := set.Evaluate(env)
			got := len(ms) == 1 && ms[0].Err == nil
			gotErr := len(ms) == 1 && ms[0].Err != nil
			if got != want || gotErr != wantErr {
				t.Errorf("%s on event %s: evaluate matched %v, failed %v; the condition alone matched %v, failed %v (%v)",
					cond, env.Event.ID(), got, gotErr, want, wantErr, err)
			}
		}
	}
	if guarded != 7 {
		t.Errorf("%d conditions guarded, want 7 (all but the last three)", guarded)
	}
}

// TestWhenPrefilterBuiltin: the built-in pack's conditions that are
// unbounded (they split or search a policy list) have a prefilter of
// their finding tests; the bounded ones need none. Every built-in rule is
// named, so a new or renamed one fails here until it is placed.
func TestWhenPrefilterBuiltin(t *testing.T) {
	t.Parallel()
	set, err := Builtin(testCatalog)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{ // rule: has a prefilter
		"alibaba-ecs-default-key-actiontrail": true, "alibaba-ecs-default-key-finding": true,
		"alibaba-ecs-service-key-actiontrail": true, "alibaba-ecs-service-key-finding": true,
		"huawei-kms-rotation-disabled-cts": false, "huawei-kms-rotation-disabled-finding": false,
		"huawei-kms-disable-key-cts": true, "huawei-kms-disable-key-finding": true,
		"huawei-kms-key-deletion-cts": true, "huawei-kms-key-deletion-finding": true,
		"huawei-evs-default-key-cts": false, "huawei-evs-default-key-finding": false,
	}
	seen := map[string]bool{}
	for _, r := range set.Rules() {
		seen[r.Name] = true
		w, ok := want[r.Name]
		switch {
		case !ok:
			t.Errorf("%s: not in the test's list (prefilter %v)", r.Name, r.whenPrefilter != nil)
		case w != (r.whenPrefilter != nil):
			t.Errorf("%s: prefilter %v, want %v", r.Name, r.whenPrefilter != nil, w)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("%s: not in the built-in pack", name)
		}
	}
}

// TestWhenPrefilterAtTheCostLimit: the one difference the prefilter makes.
// A condition whose unbounded conjunct comes first and exceeds the cost
// limit fails the rule when run alone (CEL stops it before it reaches the
// rest); with a false bounded conjunct the prefilter answers first, and
// the event is simply not matched. With that conjunct true the rule fails
// at the cost limit as before.
func TestWhenPrefilterAtTheCostLimit(t *testing.T) {
	t.Parallel()
	const cond = `data.items.map(i, data.s + data.s).exists(i, i == "x") && finding.provider == `
	env := decode(t, bigEvent(t, 1000, 1000))
	// The event is of no known form: finding.provider is "".
	for other, wantErr := range map[string]bool{`"huawei"`: false, `""`: true} {
		set := whenRule(t, cond+other)
		r := set.Rules()[0]
		if r.whenPrefilter == nil {
			t.Fatalf("%s%s: no prefilter", cond, other)
		}
		if _, _, err := r.when.Eval(&activation{env: env, policy: set.policy}); err == nil || !strings.Contains(err.Error(), "cost") {
			t.Fatalf("the condition alone: %v, want the cost limit", err)
		}
		ms := set.Evaluate(env)
		switch {
		case !wantErr && len(ms) != 0:
			t.Errorf("finding.provider == %s: %+v, want no match (the prefilter is false)", other, ms)
		case wantErr && (len(ms) != 1 || ms[0].Err == nil || !strings.Contains(ms[0].Err.Error(), "cost")):
			t.Errorf("finding.provider == %s: %+v, want the rule failing at the cost limit", other, ms)
		}
	}
}
