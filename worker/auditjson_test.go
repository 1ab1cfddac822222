package worker

import (
	"encoding/json"
	"math"
	"testing"
	"time"
)

// auditStrings are strings that exercise every escaping rule.
var auditStrings = []string{"", "plain", `quote " and \ backslash`, "<script>&amp;</script>", "tab\tnew\nline\rcr\b\f",
	"\x00\x01\x1f\x7f", "caf\u00e9 \u2028 \u2029 \U0001F600", "bad \xff\xfe utf8 \xed\xa0\x80", "\uFFFD"}

func TestAuditRenderingMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	for i, s := range auditStrings {
		for _, dur := range []float64{0, 0.001, 3.5, 1234567.891, 1e-7, 2.5e21, -1} {
			data := AuditData{Outcome: Outcome(s), Reason: s, Code: s, Error: s, Detail: s, Rule: s, Action: s, Provider: s,
				Account: s, Region: s, Resource: s, Before: s, After: s, Attempts: i - 3, DurationMS: dur,
				Event: AuditEventRef{ID: s, Source: s, Type: s, Subject: s, Sequence: math.MaxUint64 - uint64(i)}}
			if i%2 == 1 {
				data.Params = map[string]string{s: "v", "b": s, "a": "1", "z" + s: ""}
			}
			ev := auditEvent{SpecVersion: "1.0", ID: s, Source: s, Type: s, Subject: s, Time: time.Now().Format(time.RFC3339Nano), DataContentType: s, Data: &data}
			checkAuditRendering(t, &ev)
		}
	}
	checkAuditRendering(t, &auditEvent{SpecVersion: "1.0"})
	if got := string(appendJSONFloat(nil, math.NaN())); got != "0" {
		t.Errorf("NaN rendered as %s", got)
	}
}

func checkAuditRendering(t *testing.T, ev *auditEvent) {
	t.Helper()
	want, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if got := appendAuditEvent(nil, ev); string(got) != string(want) {
		t.Errorf("rendered\n%s\nencoding/json\n%s", got, want)
	}
}

// FuzzAuditRendering: the hand-written rendering equals encoding/json's
// for any strings. Run: go test ./worker -fuzz FuzzAuditRendering
func FuzzAuditRendering(f *testing.F) {
	for _, s := range auditStrings {
		f.Add(s, s, 1.5)
	}
	f.Fuzz(func(t *testing.T, a, b string, dur float64) {
		if math.IsNaN(dur) || math.IsInf(dur, 0) {
			return // encoding/json refuses these; durations are finite
		}
		data := AuditData{Outcome: Outcome(a), Detail: b, Rule: a, Params: map[string]string{a: b, b: a}, DurationMS: dur,
			Event: AuditEventRef{ID: b}}
		checkAuditRendering(t, &auditEvent{SpecVersion: "1.0", ID: a, Subject: b, Data: &data})
	})
}
