package streams

import (
	"strings"
	"testing"
)

// TestSubjectTokenBounded: any source makes one short, safe subject token;
// long sources that differ only past the cut stay apart.
func TestSubjectTokenBounded(t *testing.T) {
	t.Parallel()
	long := "acs." + strings.Repeat("x", 5000)
	cases := map[string]string{
		"acs.ecs": "acs_ecs",
		"":        "_",
		"a b>*":   "a_b__",
		"HC.KMS":  "HC_KMS",
	}
	for in, want := range cases {
		if got := SubjectToken(in); got != want {
			t.Errorf("SubjectToken(%q) = %q, want %q", in, got, want)
		}
	}
	for _, in := range []string{long, strings.Repeat("é", 100), strings.Repeat("a", MaxSubjectToken+1)} {
		got := SubjectToken(in)
		if len(got) > MaxSubjectToken || strings.Trim(got, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != "" {
			t.Errorf("SubjectToken(%d bytes) = %q: over %d bytes or unsafe", len(in), got, MaxSubjectToken)
		}
	}
	if SubjectToken(long) == SubjectToken(long+"y") {
		t.Error("two long sources that differ past the cut share a token")
	}
	if got := SubjectToken(strings.Repeat("a", MaxSubjectToken)); got != strings.Repeat("a", MaxSubjectToken) {
		t.Errorf("a token of exactly the cap was changed: %q", got)
	}
	if s := testConfig().IntakeSubject(long); len(s) > 100 {
		t.Errorf("intake subject of a 5,000-char source is %d bytes", len(s))
	}
}
