package audit

import (
	"testing"
	"time"

	"github.com/remediator/remediator/events"
)

// BenchmarkAuditEvent measures rendering one audit record.
// Run: go test ./worker/audit -run '^$' -bench AuditEvent -benchmem
func BenchmarkAuditEvent(b *testing.B) {
	a := NewStream(nil, StreamConfig{Subject: "remediation.audit", IntakeStream: "REMEDIATION_EVENTS"})
	d := Decision{
		Event: Event{EventID: "e-1", EventSource: "HC.KMS", EventType: "KMS:CloudTrace:ApiCall", Subject: "remediation.events.HC_KMS",
			Sequence: 42, Attempt: 1, Finding: &events.Finding{Provider: "huawei"}},
		Result: Result{Rule: "huawei-kms-rotation-disabled-cts", Action: "huawei.kms.enable_key_rotation",
			Params:  map[string]string{"region": "cn-north-4", "project_id": "0b5a7f3c2d8e4b1a9c6d5e4f3a2b1c0d", "key_id": "0d0466b0-e727-4d9c-b35d-f84bb474a37f"},
			Outcome: AlreadyCompliant, Duration: 3 * time.Millisecond},
		Final: true}
	b.ReportAllocs()
	for b.Loop() {
		if body, _, err := a.event(d); err != nil || len(body) == 0 {
			b.Fatal("no record", err)
		}
	}
}
