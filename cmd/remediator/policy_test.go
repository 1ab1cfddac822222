package main

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"

	"github.com/remediator/remediator/worker/alibaba"
	"github.com/remediator/remediator/worker/huawei"
)

// TestPolicyDocumentsMatchActions checks each provider's least-privilege
// policy in deploy/policies grants exactly what its actions and its
// sweep's reads declare.
func TestPolicyDocumentsMatchActions(t *testing.T) {
	t.Parallel()
	reg, err := buildActions(providerConfig{cloudEndpoint: "http://127.0.0.1:1"}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"huawei": "../../deploy/policies/huawei-iam-policy.json", "alibaba": "../../deploy/policies/alibaba-ram-policy.json"}
	for provider, file := range files {
		var want []string
		for _, name := range reg.Names() {
			if strings.HasPrefix(name, provider+".") {
				a, _ := reg.Get(name)
				want = append(want, a.Permissions()...)
			}
		}
		want = append(want, map[string][]string{"huawei": huawei.InventoryPermissions(), "alibaba": alibaba.InventoryPermissions()}[provider]...)
		slices.Sort(want)
		want = slices.Compact(want)
		b, err := os.ReadFile(file)
		if err != nil {
			t.Errorf("%s: %v", provider, err)
			continue
		}
		var doc struct {
			Statement []struct {
				Effect string   `json:"Effect"`
				Action []string `json:"Action"`
			} `json:"Statement"`
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		var got []string
		for _, st := range doc.Statement {
			if st.Effect != "Allow" {
				t.Errorf("%s: only Allow statements expected", file)
			}
			got = append(got, st.Action...)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s grants %v, actions declare %v", file, got, want)
		}
	}
}
