package worker_test

import (
	"encoding/json"
	"testing"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker/audit"
)

func TestAuditTrail(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.publish(ctsEvent("au-fix", keyOff), events.Structured)
	b.publish(ctsEvent("au-ok", keyOn), events.Binary)
	b.publish(ctsEvent("au-missing", keyNone), events.Structured)
	r := ctsEvent("au-nomatch", keyOff)
	r.Body = []byte(`{"specversion":"1.0","id":"au-nomatch","source":"HC.KMS","type":"com.example.other"}`)
	b.publish(r, events.Structured)
	b.waitFinal(4)
	b.assertDrained()
	got := map[string]audit.Record{}
	for _, m := range b.streamMsgs(b.cfg.AuditStream) {
		env, err := events.Decode(t.Context(), m.Headers(), m.Data())
		if err != nil {
			t.Fatalf("audit record is not a CloudEvent: %v", err)
		}
		var d audit.Record
		if err := env.Event.DataAs(&d); err != nil {
			t.Fatal(err)
		}
		if m.Subject() != b.cfg.AuditSubject+"."+string(d.Outcome) || env.Event.Type() != audit.TypePrefix+string(d.Outcome) {
			t.Errorf("subject %s type %s for outcome %s", m.Subject(), env.Event.Type(), d.Outcome)
		}
		got[d.Event.ID] = d
	}
	if len(got) != 3 {
		t.Fatalf("%d audit records, want 3 (no_match has none): %+v", len(got), got)
	}
	fix := got["au-fix"]
	if fix.Outcome != audit.Remediated || fix.Provider != "huawei" || fix.Region != "cn-north-4" || fix.Resource != keyOff ||
		fix.Before != "rotation disabled" || fix.After != "rotation enabled" || fix.Attempts != 1 || fix.Event.Source != "HC.KMS" {
		t.Errorf("remediated record %+v", fix)
	}
	if got["au-ok"].Outcome != audit.AlreadyCompliant {
		t.Errorf("compliant record %+v", got["au-ok"])
	}
	if m := got["au-missing"]; m.Outcome != audit.DeadLettered || m.Reason != "not_found" || m.Code != "KMS.0207" || m.Error == "" {
		t.Errorf("dead-letter record %+v", m)
	}
	raw, _ := json.Marshal(fix)
	if len(raw) < 100 {
		t.Errorf("record too thin: %s", raw)
	}
}
