package streams

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// EnsureTopology creates or updates the intake, dead-letter, audit and
// advisory streams, the ledger, control, limits and approvals buckets and the durable
// consumer. It is idempotent: every replica calls it at start-up.
func EnsureTopology(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Consumer, error) {
	err := ensureStream(ctx, js, jetstream.StreamConfig{
		Name:        cfg.Stream,
		Description: "remediator intake: CloudEvents to evaluate",
		Subjects:    []string{cfg.Subject},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Duplicates:  cfg.Duplicates,
		MaxMsgSize:  IntakeMaxMsgSize(js.Conn().MaxPayload(), cfg.MaxMsgSize),
		Replicas:    cfg.Replicas,
		Discard:     jetstream.DiscardNew,
	})
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", cfg.Stream, err)
	}
	err = ensureStream(ctx, js, jetstream.StreamConfig{
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
	err = ensureStream(ctx, js, jetstream.StreamConfig{
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
	err = ensureKV(ctx, js, jetstream.KeyValueConfig{
		Bucket:      cfg.LedgerBucket,
		Description: "remediator idempotency ledger: leases and done records per event and rule, leases per resource",
		TTL:         cfg.LedgerTTL,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", cfg.LedgerBucket, err)
	}
	err = ensureKV(ctx, js, jetstream.KeyValueConfig{
		Bucket:      cfg.ControlBucket,
		Description: "remediator circuits: rules paused by the blast-radius guard",
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", cfg.ControlBucket, err)
	}
	err = ensureKV(ctx, js, jetstream.KeyValueConfig{
		Bucket:      cfg.LimitsBucket,
		Description: "remediator write windows: writes and slots in flight per limited rule, shared by the replicas",
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", cfg.LimitsBucket, err)
	}
	err = ensureKV(ctx, js, jetstream.KeyValueConfig{
		Bucket:      cfg.ApprovalsBucket,
		Description: "remediator approvals: plans of actions waiting for people to approve them, changed by compare-and-set",
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("key-value bucket %s: %w", cfg.ApprovalsBucket, err)
	}
	if _, err := ensureAdvisories(ctx, js, cfg); err != nil {
		return nil, err
	}
	cons, err := ensureConsumer(ctx, js, cfg.Stream, jetstream.ConsumerConfig{
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

// ensureStream creates the stream, or updates it when its settings
// differ. An existing stream with the same settings is left alone, so a
// replica can start while a cluster node is down.
func ensureStream(ctx context.Context, js jetstream.JetStream, sc jetstream.StreamConfig) error {
	st, err := js.Stream(ctx, sc.Name)
	switch {
	case err == nil:
		cur := st.CachedInfo().Config
		// A field left zero here is stored as the server's default (-1 for
		// MaxMsgSize, 2m for Duplicates): compare with what it stores, or
		// every start would update the stream (and a user without update
		// rights, a publisher, could not start).
		if slices.Equal(cur.Subjects, sc.Subjects) && cur.Retention == sc.Retention && cur.MaxMsgSize == cmp.Or(sc.MaxMsgSize, -1) &&
			(sc.Duplicates == 0 || cur.Duplicates == sc.Duplicates) && cur.MaxAge == sc.MaxAge && cur.Replicas == max(sc.Replicas, 1) {
			return nil
		}
		_, err = js.UpdateStream(ctx, sc)
		return err
	case !errors.Is(err, jetstream.ErrStreamNotFound):
		return err
	}
	_, err = js.CreateStream(ctx, sc)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return nil // another replica created it just now
	}
	return err
}

// ensureConsumer creates the durable consumer, or updates it when its
// settings differ.
func ensureConsumer(ctx context.Context, js jetstream.JetStream, stream string, cc jetstream.ConsumerConfig) (jetstream.Consumer, error) {
	c, err := js.Consumer(ctx, stream, cc.Durable)
	if err == nil {
		cur := c.CachedInfo().Config
		if cur.AckWait == cc.AckWait && cur.MaxDeliver == cc.MaxDeliver && (cc.MaxAckPending == 0 || cur.MaxAckPending == cc.MaxAckPending) {
			return c, nil
		}
		cc.PauseUntil = cur.PauseUntil // an operator's pause survives a config change
	} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, err
	}
	return js.CreateOrUpdateConsumer(ctx, stream, cc)
}

// ensureKV creates the bucket unless it exists.
func ensureKV(ctx context.Context, js jetstream.JetStream, kc jetstream.KeyValueConfig) error {
	if _, err := js.KeyValue(ctx, kc.Bucket); err == nil {
		return nil
	}
	_, err := js.CreateKeyValue(ctx, kc)
	if errors.Is(err, jetstream.ErrBucketExists) {
		return nil
	}
	return err
}
