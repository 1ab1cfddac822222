package worker

import (
	"testing"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/remediator/remediator/events"
)

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
