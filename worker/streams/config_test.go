package streams

import "time"

// testConfig is worker.DefaultConfig().Streams(): the tests here cannot
// import the worker.
func testConfig() Config {
	return Config{
		Stream: "REMEDIATION_EVENTS", Subject: "remediation.events.>", Consumer: "remediator",
		DLQStream: "REMEDIATION_DLQ", DLQSubject: "remediation.dlq",
		AuditStream: "REMEDIATION_AUDIT", AuditSubject: "remediation.audit", AuditMaxAge: 90 * 24 * time.Hour,
		AdvisoryStream: "REMEDIATION_ADVISORIES",
		LedgerBucket:   "REMEDIATION_LEDGER", LedgerTTL: 7 * 24 * time.Hour,
		ControlBucket: "REMEDIATION_CONTROL", LimitsBucket: "REMEDIATION_LIMITS", ApprovalsBucket: "REMEDIATION_APPROVALS",
		Duplicates: 10 * time.Minute, MaxMsgSize: 1 << 20, Replicas: 1,
		AckWait: 30 * time.Second, MaxDeliver: 8 + 50, MaxAckPending: 1000,
	}
}
