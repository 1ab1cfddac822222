package audit

import "testing"

func TestAuditRecordIDOfEventsWithoutID(t *testing.T) {
	t.Parallel()
	a := NewStream(nil, StreamConfig{IntakeStream: "REMEDIATION_EVENTS"})
	d1 := Decision{Event: Event{Sequence: 1}, Result: Result{Outcome: DeadLettered}}
	d2 := Decision{Event: Event{Sequence: 2}, Result: Result{Outcome: DeadLettered}}
	if a.recordID(d1) == a.recordID(d2) {
		t.Error("two undecodable events share an audit record id")
	}
	e1 := Decision{Event: Event{EventID: "e", EventSource: "s", Sequence: 1}, Result: Result{Outcome: DeadLettered}}
	e2 := e1
	e2.Sequence = 9 // a redelivery or a republished copy: the same event
	if a.recordID(e1) != a.recordID(e2) {
		t.Error("an event with an id has an audit record id that depends on its sequence")
	}
}

// TestKnownReasons: every reason the worker and the providers give is in
// the closed set, and anything else becomes provider_error.
func TestKnownReasons(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, r := range Reasons {
		if seen[string(r)] {
			t.Errorf("reason %s listed twice", r)
		}
		seen[string(r)] = true
		if Known(r) != r {
			t.Errorf("Known(%s) = %s", r, Known(r))
		}
	}
	if got := Known("made_up"); got != "provider_error" {
		t.Errorf("Known(made_up) = %s, want provider_error", got)
	}
	if Known("") != "" {
		t.Error("the empty reason must stay empty (a success has none)")
	}
}
