package rules

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestApprovalBuiltinAndWaiver: the built-in disable_key rules require one
// approver within 24h, the others none; approval_waived lifts it.
func TestApprovalBuiltinAndWaiver(t *testing.T) {
	t.Parallel()
	set, err := Builtin(testCatalog)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range set.Rules() {
		switch {
		case r.Action == "huawei.kms.disable_key":
			n++
			if r.Approval == nil || r.Approval.Approvers != 1 || r.Approval.TTL != 24*time.Hour {
				t.Errorf("%s: approval %+v, want 1 approver, 24h", r.Name, r.Approval)
			}
		case r.Approval != nil:
			t.Errorf("%s (%s) requires approval; only disable_key should", r.Name, r.Action)
		}
	}
	if n != 2 {
		t.Fatalf("%d disable_key rules, want 2", n)
	}
	dir := t.TempDir()
	pol := "policy:\n  approval_waived: [huawei-kms-disable-key-cts]\n"
	if err := os.WriteFile(filepath.Join(dir, "p.yaml"), []byte(pol), 0o644); err != nil {
		t.Fatal(err)
	}
	set, err = LoadWithBuiltin(testCatalog, dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range set.Rules() {
		if r.Name == "huawei-kms-disable-key-cts" && r.Approval != nil {
			t.Error("huawei-kms-disable-key-cts still requires approval after approval_waived")
		}
		if r.Name == "huawei-kms-disable-key-finding" && r.Approval == nil {
			t.Error("huawei-kms-disable-key-finding lost its approval; it was not waived")
		}
	}
}

func TestApprovalParsed(t *testing.T) {
	t.Parallel()
	set, err := Parse(testCatalog, "a.yaml", []byte(`rules:
  - name: r
    match: {type: t}
    action: huawei.kms.enable_key_rotation
    params: {region: r, project_id: p, key_id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f}
    approval: {required: true, approvers: 2, ttl: 90m}
  - name: s
    match: {type: t}
    action: huawei.kms.enable_key_rotation
    params: {region: r, project_id: p, key_id: 0d0466b0-e727-4d9c-b35d-f84bb474a37f}
    approval: {required: false, approvers: 3}
`))
	if err != nil {
		t.Fatal(err)
	}
	rs := set.Rules()
	if a := rs[0].Approval; a == nil || a.Approvers != 2 || a.TTL != 90*time.Minute {
		t.Errorf("r: %+v", a)
	}
	if rs[1].Approval != nil {
		t.Errorf("s: approval %+v, want nil (required: false)", rs[1].Approval)
	}
}
