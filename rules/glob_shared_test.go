package rules

import "testing"

// TestMatchGlob: the exported matcher the allowlists share, on README's
// examples and the forms the rules support.
func TestMatchGlob(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"*:ActionTrail:ApiCall", "ecs:ActionTrail:ApiCall", true},
		{"*:ActionTrail:ApiCall", "ecs:ActionTrail:ConsoleSignin", false},
		{"KMS:CloudTrace:*", "KMS:CloudTrace:ApiCall", true},
		{"KMS:CloudTrace:*", "OBS:CloudTrace:ApiCall", false},
		{"acs.*", "acs.ecs", true},
		{"acs.*", "acsx.ecs", false},
		{"HC.*", "HC.KMS", true},
		{"a*b", "aXYZb", true},
		{"a*b", "aXYZc", false},
		{"HC.?MS", "HC.KMS", true},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"", "", true},
		{"", "x", false}, // unlike an omitted match field, an empty allowlist entry is no wildcard
	} {
		if got := MatchGlob(tc.p, tc.s); got != tc.want {
			t.Errorf("MatchGlob(%q, %q) = %v, want %v", tc.p, tc.s, got, tc.want)
		}
	}
}
