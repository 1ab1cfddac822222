package worker

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// EnsureTopology creates or updates the intake stream, the dead-letter
// stream and the durable consumer. It is idempotent: every replica calls it
// at start-up.
func EnsureTopology(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Consumer, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "remediator intake: CloudEvents to evaluate",
		Subjects:    []string{cfg.Subject},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  cfg.Duplicates,
		MaxMsgSize:  cfg.MaxMsgSize,
		Replicas:    cfg.Replicas,
		Discard:     jetstream.DiscardNew,
	})
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", cfg.Stream, err)
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.DLQStream,
		Description: "remediator dead letters: original message plus Remediator-* headers",
		Subjects:    []string{strings.TrimSuffix(cfg.DLQSubject, ".") + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  cfg.Duplicates,
		MaxMsgSize:  cfg.MaxMsgSize + 64<<10, // room for the added headers
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", cfg.DLQStream, err)
	}
	_, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        cfg.AuditStream,
		Description: "remediator audit trail: one CloudEvent per event, rule and final outcome",
		Subjects:    []string{strings.TrimSuffix(cfg.AuditSubject, ".") + ".>"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  cfg.Duplicates,
		MaxAge:      cfg.AuditMaxAge,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", cfg.AuditStream, err)
	}
	_, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      cfg.LedgerBucket,
		Description: "remediator idempotency ledger: leases and done records per event and rule, leases per resource",
		TTL:         cfg.LedgerTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", cfg.LedgerBucket, err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, cfg.Stream, jetstream.ConsumerConfig{
		Durable:       cfg.Consumer,
		Description:   "remediator workers (all replicas share this consumer)",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    cfg.MaxDeliver,
		MaxAckPending: cfg.MaxAckPending,
		Replicas:      cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("consumer %s on %s: %w", cfg.Consumer, cfg.Stream, err)
	}
	return cons, nil
}
