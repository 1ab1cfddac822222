package streams

import "time"

// Config names the streams, subjects, buckets and consumer and sets their
// limits. It has no defaults of its own: worker.Config.Streams fills every
// field from the one configuration users set.
type Config struct {
	Stream   string // intake stream
	Subject  string // intake subjects, a wildcard: remediation.events.>
	Consumer string // the workers' durable consumer, on the intake and on the advisories

	DLQStream      string        // dead-letter stream
	DLQSubject     string        // prefix of dead-letter subjects: <DLQSubject>.<reason>
	AuditStream    string        // audit stream
	AuditSubject   string        // prefix of audit subjects
	AuditMaxAge    time.Duration // how long audit records are kept
	AdvisoryStream string        // captures the intake consumer's max-deliveries advisories

	LedgerBucket  string        // KV bucket of the idempotency ledger
	LedgerTTL     time.Duration // how long its records are kept
	ControlBucket string        // KV bucket of the circuits
	LimitsBucket  string        // KV bucket of the write windows
	// ApprovalsBucket is the KV bucket of the plans waiting for approval.
	ApprovalsBucket string

	Duplicates time.Duration // duplicate window (Nats-Msg-Id) of the intake, dead-letter and audit streams
	MaxMsgSize int32         // largest message the intake stores (lowered under max_payload, IntakeMaxMsgSize)
	Replicas   int           // stream, bucket and consumer replicas

	AckWait       time.Duration // the consumer's ack wait
	MaxDeliver    int           // the consumer's MaxDeliver: every delivery, attempts and waits
	MaxAckPending int           // the consumer's MaxAckPending; 0: the server's default
}
