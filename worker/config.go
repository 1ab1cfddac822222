package worker

import (
	"errors"
	"fmt"
	"time"

	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/streams"
)

// Config holds the names and limits of the intake, the dead-letter stream
// and the worker pool. Zero values take the defaults from DefaultConfig.
type Config struct {
	Stream         string        // intake stream, REMEDIATION_EVENTS
	Subject        string        // intake subjects, remediation.events.>
	Consumer       string        // durable pull consumer shared by replicas, remediator
	DLQStream      string        // REMEDIATION_DLQ
	DLQSubject     string        // prefix of dead-letter subjects, remediation.dlq
	AuditStream    string        // REMEDIATION_AUDIT
	AuditSubject   string        // prefix of audit subjects, remediation.audit
	AuditMaxAge    time.Duration // how long audit events are kept
	LedgerBucket   string        // KV bucket of the idempotency ledger
	AdvisoryStream string        // captures the intake consumer's max-deliveries advisories
	LedgerTTL      time.Duration // how long done records are kept
	Duplicates     time.Duration // intake duplicate window (Nats-Msg-Id)
	MaxMsgSize     int32         // largest message either stream stores
	MaxEventBytes  int           // larger events are dead-lettered as too_large
	Replicas       int           // stream replicas (1 standalone, 3 in a cluster)

	Concurrency int
	// Prefetch is how many messages the worker pulls ahead of its
	// handlers (at least Concurrency; 0: PrefetchFor(Concurrency), at
	// most MaxAckPending). A message waits in that buffer with its ack
	// wait running, so Prefetch divided by the slowest rate events are
	// handled at must stay well under AckWait; a message whose ack wait
	// ends there is delivered again (the ledger keeps the work to one
	// delivery) and spends an attempt.
	Prefetch int
	AckWait  time.Duration
	// MaxDeliver is how many attempts an event gets. Deliveries that only
	// waited for another delivery's lease (busy) or were handed back at
	// shutdown are not attempts; up to MaxWaits of them are allowed on
	// top, so the consumer's own MaxDeliver is MaxDeliver+MaxWaits.
	MaxDeliver int
	MaxWaits   int
	// CloudTimeout bounds one cloud call (the providers' HTTP timeout). A
	// write is sent only while its leases have at least this long left,
	// plus a margin (see fence in hold.go). 0: 10s, or half the ack wait
	// when that is shorter.
	CloudTimeout    time.Duration
	MaxAckPending   int
	RetryBase       time.Duration // first retry delay
	ThrottleBase    time.Duration // first retry delay after throttling
	RetryMax        time.Duration // cap on any retry delay
	ShutdownTimeout time.Duration
	DryRun          bool // plan every action, write nothing
	// CoalesceFor is how long a read that found an action compliant
	// answers later events about the same thing, when they were stored
	// before the read began (see observe.go). 0: off, every event reads.
	// DefaultConfig sets a minute.
	CoalesceFor time.Duration

	// SelfPrincipals are the worker's own cloud identities (ActionTrail
	// principalId or userName, CTS user id or name): changes they made are
	// findings with self=true, which the built-in rules do not act on.
	SelfPrincipals []string
	// TrustedSources and TrustedAccounts, when set, are the only event
	// sources (exact, or a prefix ending in *) and accounts acted on;
	// other events are acked with outcome untrusted.
	TrustedSources  []string
	TrustedAccounts []string

	// GlobalWriteLimit caps the writes of all rules together per
	// GlobalWriteWindow (0: no global limit). Past it, or past a rule's
	// own limits, a circuit opens for CircuitCooldown.
	GlobalWriteLimit  int
	GlobalWriteWindow time.Duration
	CircuitCooldown   time.Duration
	ControlBucket     string // KV bucket of the circuits
	// LimitsBucket holds the write windows of the limited rules and of the
	// global limit, shared by every replica (see worker/guard).
	LimitsBucket string
	// ApprovalsBucket holds the plans waiting for approval (README,
	// Approvals); ApprovalCheck is how often a worker looks for plans past
	// their TTL and for decided plans whose control event went missing.
	ApprovalsBucket string
	ApprovalCheck   time.Duration
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Stream:            "REMEDIATION_EVENTS",
		Subject:           "remediation.events.>",
		Consumer:          "remediator",
		DLQStream:         "REMEDIATION_DLQ",
		DLQSubject:        "remediation.dlq",
		AuditStream:       "REMEDIATION_AUDIT",
		AuditSubject:      "remediation.audit",
		AuditMaxAge:       90 * 24 * time.Hour,
		LedgerBucket:      "REMEDIATION_LEDGER",
		AdvisoryStream:    "REMEDIATION_ADVISORIES",
		GlobalWriteWindow: time.Hour,
		CircuitCooldown:   30 * time.Minute,
		ControlBucket:     "REMEDIATION_CONTROL",
		LimitsBucket:      "REMEDIATION_LIMITS",
		ApprovalsBucket:   "REMEDIATION_APPROVALS",
		ApprovalCheck:     time.Minute,
		LedgerTTL:         7 * 24 * time.Hour,
		Duplicates:        10 * time.Minute,
		MaxMsgSize:        1 << 20,
		MaxEventBytes:     256 << 10,
		Replicas:          1,
		Concurrency:       8,
		AckWait:           30 * time.Second,
		MaxDeliver:        8,
		MaxWaits:          50,
		MaxAckPending:     1000,
		RetryBase:         time.Second,
		ThrottleBase:      5 * time.Second,
		RetryMax:          30 * time.Second,
		ShutdownTimeout:   20 * time.Second,
		CoalesceFor:       time.Minute,
	}
}

// PrefetchFor is the prefetch of a worker at the given concurrency when
// none is set: 8 messages per handler, at least 64. A message then waits
// in the buffer for about 8 events' handling at most, whatever the
// concurrency (64 at the default 8); more handlers drain a buffer as
// much larger as they are. At concurrency 16 its 128 drain a no-write
// backlog faster than 64 did: bigger pulls, fewer reads and writes on
// both sides (README, Measured as users run it).
func PrefetchFor(concurrency int) int { return max(64, 8*concurrency) }

// withDefaults fills zero fields from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	set := func(dst *string, v string) {
		if *dst == "" {
			*dst = v
		}
	}
	set(&c.Stream, d.Stream)
	set(&c.Subject, d.Subject)
	set(&c.Consumer, d.Consumer)
	set(&c.DLQStream, d.DLQStream)
	set(&c.DLQSubject, d.DLQSubject)
	set(&c.AuditStream, d.AuditStream)
	set(&c.AuditSubject, d.AuditSubject)
	set(&c.LedgerBucket, d.LedgerBucket)
	set(&c.AdvisoryStream, d.AdvisoryStream)
	set(&c.ControlBucket, d.ControlBucket)
	set(&c.LimitsBucket, d.LimitsBucket)
	set(&c.ApprovalsBucket, d.ApprovalsBucket)
	setDur := func(dst *time.Duration, v time.Duration) {
		if *dst <= 0 {
			*dst = v
		}
	}
	setDur(&c.Duplicates, d.Duplicates)
	setDur(&c.AuditMaxAge, d.AuditMaxAge)
	setDur(&c.LedgerTTL, d.LedgerTTL)
	setDur(&c.GlobalWriteWindow, d.GlobalWriteWindow)
	setDur(&c.CircuitCooldown, d.CircuitCooldown)
	setDur(&c.AckWait, d.AckWait)
	setDur(&c.RetryBase, d.RetryBase)
	setDur(&c.ThrottleBase, d.ThrottleBase)
	setDur(&c.RetryMax, d.RetryMax)
	setDur(&c.ShutdownTimeout, d.ShutdownTimeout)
	setDur(&c.ApprovalCheck, d.ApprovalCheck)
	setInt := func(dst *int, v int) {
		if *dst <= 0 {
			*dst = v
		}
	}
	setInt(&c.MaxEventBytes, d.MaxEventBytes)
	setInt(&c.Replicas, d.Replicas)
	setInt(&c.Concurrency, d.Concurrency)
	setInt(&c.MaxAckPending, d.MaxAckPending)
	// The default window stays within the consumer's ack pending limit
	// (validate refuses a larger one, as it did when the default was 64).
	setInt(&c.Prefetch, min(PrefetchFor(c.Concurrency), c.MaxAckPending))
	c.Prefetch = max(c.Prefetch, c.Concurrency)
	setInt(&c.MaxDeliver, d.MaxDeliver)
	setInt(&c.MaxWaits, d.MaxWaits)
	if c.CloudTimeout <= 0 {
		c.CloudTimeout = min(10*time.Second, c.AckWait/2)
	}
	if c.MaxMsgSize <= 0 {
		c.MaxMsgSize = d.MaxMsgSize
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.MaxEventBytes > int(c.MaxMsgSize) {
		errs = append(errs, fmt.Errorf("max event bytes %d exceeds the stream's max message size %d", c.MaxEventBytes, c.MaxMsgSize))
	}
	if c.MaxAckPending < c.Prefetch {
		errs = append(errs, fmt.Errorf("max ack pending %d is below the prefetch %d (at least the concurrency)", c.MaxAckPending, c.Prefetch))
	}
	if c.MaxDeliver < 2 {
		errs = append(errs, errors.New("max deliver must be at least 2"))
	}
	if c.CloudTimeout > c.AckWait/2 {
		errs = append(errs, fmt.Errorf("cloud timeout %s is more than half the ack wait %s: a write must end well within the lease it runs under (raise --ack-wait or lower --cloud-timeout)",
			c.CloudTimeout, c.AckWait))
	}
	return errors.Join(errs...)
}

// WithDefaults returns the configuration with zero fields set from
// DefaultConfig and derived values filled in (CloudTimeout).
func (c Config) WithDefaults() Config { return c.withDefaults() }

// fenceMargin is the lease time a write needs left beyond its own timeout:
// it absorbs the clock difference between replicas (a lease's end is
// compared with the clock of whoever would take it over) and the moment
// between the proof and the request leaving.
func (c Config) fenceMargin() time.Duration { return c.AckWait / 4 }

// AuditConfig is where the audit recorder publishes.
func (c Config) AuditConfig() audit.StreamConfig {
	c = c.withDefaults()
	return audit.StreamConfig{Subject: c.AuditSubject, IntakeStream: c.Stream}
}

// Streams is the configuration of the streams, buckets and consumer
// (streams.EnsureTopology, the dead letters, the intake subjects).
func (c Config) Streams() streams.Config {
	c = c.withDefaults()
	return streams.Config{
		Stream: c.Stream, Subject: c.Subject, Consumer: c.Consumer,
		DLQStream: c.DLQStream, DLQSubject: c.DLQSubject,
		AuditStream: c.AuditStream, AuditSubject: c.AuditSubject, AuditMaxAge: c.AuditMaxAge,
		AdvisoryStream: c.AdvisoryStream,
		LedgerBucket:   c.LedgerBucket, LedgerTTL: c.LedgerTTL, ControlBucket: c.ControlBucket, LimitsBucket: c.LimitsBucket,
		ApprovalsBucket: c.ApprovalsBucket,
		Duplicates:      c.Duplicates, MaxMsgSize: c.MaxMsgSize, Replicas: c.Replicas,
		AckWait:       c.AckWait,
		MaxDeliver:    c.MaxDeliver + c.MaxWaits, // waits are not attempts (settle counts them)
		MaxAckPending: c.MaxAckPending,
	}
}
