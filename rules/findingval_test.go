package rules

import (
	"testing"

	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"

	"github.com/remediator/remediator/events"
)

// findingVal must give every expression over finding what the map from
// Finding.Map gives: values, presence, missing keys, comparison,
// iteration, size.
func TestFindingValIsTheMap(t *testing.T) {
	t.Parallel()
	env, err := newEnv()
	if err != nil {
		t.Fatal(err)
	}
	f := &events.Finding{Form: "cts", Provider: "huawei", Account: "acc", Region: "cn-north-4", Project: "p", ResourceType: "cmk",
		ResourceID: "k-1", Drift: events.DriftKeyRotationDisabled, Operation: "disableKeyRotation",
		Actor: events.Actor{Type: "user", ID: "u-1", Name: "alice"}, Detail: "d", Self: true}
	exprs := []string{
		`finding.drift`, `finding.self`, `finding.detail`, `finding.actor`, `finding.actor.name`, `finding.actor.nope`,
		`has(finding.drift)`, `has(finding.nope)`, `has(finding.actor.id)`, `finding.nope`, `finding["region"]`,
		`"drift" in finding`, `"nope" in finding`, `size(finding)`, `finding == finding`, `finding != {"drift": "x"}`,
		`finding.all(k, k != "")`, `finding.exists(k, k == "actor")`, `finding.filter(k, k.startsWith("re")).size()`,
		`finding.drift == "kms.key_rotation_disabled" && !finding.self`, `finding.region in ["cn-north-4"]`,
		`string(finding.provider) + "/" + finding.account`, `type(finding) == map`, `dyn(finding)[1]`, `dyn(finding).region`,
		`{"a": finding}.a.form`, `[finding][0].project`, `finding.map(k, k).size()`,
	}
	for k := range f.Map() {
		exprs = append(exprs, "finding."+k, "has(finding."+k+")", `finding["`+k+`"]`)
	}
	for _, e := range exprs {
		ast, iss := env.Compile(e)
		if iss.Err() != nil {
			t.Fatalf("%s: %v", e, iss.Err())
		}
		prg, err := env.Program(ast)
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range []*events.Finding{f, {}} {
			want, _, wantErr := prg.Eval(map[string]any{"finding": fd.Map(), "event": map[string]any{}, "data": nil, "policy": map[string]any{}})
			got, _, gotErr := prg.Eval(&activation{env: &events.Envelope{Finding: fd}})
			if (gotErr == nil) != (wantErr == nil) || gotErr == nil && !sameVal(got, want) {
				t.Errorf("%s: findingVal gives %v (%v), the map %v (%v)", e, got, gotErr, want, wantErr)
			}
		}
	}
}

func sameVal(a, b ref.Val) bool {
	if a.Type() != b.Type() {
		return false
	}
	return a.Equal(b) == types.True
}
