package rules

import (
	"testing"
)

// TestWhenGuardKeepsResults: a rule's guard (its when condition's bounded
// conjuncts, tested first without cost tracking) never changes what the
// condition decides: for every condition and event, evaluate matches or
// not, and fails or not, exactly as the condition run alone does.
func TestWhenGuardKeepsResults(t *testing.T) {
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
		if r.whenGuard != nil {
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

// TestWhenGuardBuiltin: the built-in pack's conditions that split a policy
// list (disable-key, key-deletion) are guarded by their finding tests;
// bounded conditions need no guard.
func TestWhenGuardBuiltin(t *testing.T) {
	set, err := Builtin(testCatalog)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range set.Rules() {
		tracked := r.when != nil && r.whenGuard != nil
		switch r.Name {
		case "huawei-kms-disable-key-cts", "huawei-kms-key-deletion-cts":
			if !tracked {
				t.Errorf("%s has no guard", r.Name)
			}
		case "huawei-kms-rotation-disabled-cts":
			if r.whenGuard != nil {
				t.Errorf("%s is bounded and has a guard", r.Name)
			}
		}
	}
}
