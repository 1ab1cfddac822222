package worker

import (
	"strings"
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/remediator/remediator/events"
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
	if s := DefaultConfig().IntakeSubject(long); len(s) > 100 {
		t.Errorf("intake subject of a 5,000-char source is %d bytes", len(s))
	}
}

// TestTrustedSourceGlob: --trusted-source patterns are the rules' globs.
func TestTrustedSourceGlob(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p, s string
		want bool
	}{{"acs.*", "acs.ecs", true}, {"*.kms", "acs.kms", true}, {"HC.?MS", "HC.KMS", true}, {"acs.*", "acsx", false}, {"HC.KMS", "HC.KMS", true}} {
		w := &Worker{cfg: Config{TrustedSources: []string{tc.p}}}
		ev := event.New()
		ev.SetSource(tc.s)
		env := &events.Envelope{Event: ev}
		if got := w.untrusted(env) == ""; got != tc.want {
			t.Errorf("trusted-source %q, source %q: trusted %v, want %v", tc.p, tc.s, got, tc.want)
		}
	}
}
