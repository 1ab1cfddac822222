package audit

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/remediator/remediator/events"
)

// TestRecordActor: the record says who made the change when the finding
// names someone, and has no actor key otherwise.
func TestRecordActor(t *testing.T) {
	t.Parallel()
	a := NewStream(nil, StreamConfig{Subject: "remediation.audit"})
	d := Decision{Final: true, Event: Event{EventID: "e1", EventSource: "s",
		Finding: &events.Finding{Actor: events.Actor{Type: "assumed-role", ID: "u-1", Name: "alice"}}},
		Result: Result{Rule: "r", Action: "huawei.kms.enable-key-rotation", Outcome: Remediated}}
	body, _, err := a.event(d)
	if err != nil {
		t.Fatal(err)
	}
	var ev struct{ Data Record }
	if err := json.Unmarshal(body, &ev); err != nil {
		t.Fatal(err)
	}
	if got := ev.Data.Actor; got == nil || *got != (events.Actor{Type: "assumed-role", ID: "u-1", Name: "alice"}) {
		t.Errorf("actor = %+v, want the finding's", got)
	}
	if !strings.Contains(string(body), `"actor":{"type":"assumed-role","id":"u-1","name":"alice"}`) {
		t.Errorf("record JSON has no actor object: %s", body)
	}
	d.Finding = &events.Finding{}
	if body, _, _ = a.event(d); strings.Contains(string(body), `"actor"`) {
		t.Errorf("a finding naming nobody gave an actor: %s", body)
	}
	d.Finding = nil
	if body, _, _ = a.event(d); strings.Contains(string(body), `"actor"`) {
		t.Errorf("a decision without finding gave an actor: %s", body)
	}
}
