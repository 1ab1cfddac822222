package streams

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/audit"
)

// A message that reaches MaxDeliver without the worker settling it (the
// worker crashed on each delivery) stays in the work-queue stream and is
// never delivered again. The server announces it with a core-NATS
// advisory; a stream captures those so none is missed while no worker
// runs, and the worker moves each such message to the dead-letter stream
// (MoveExhausted).

func (c Config) advisorySubject() string {
	return "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + c.Stream + "." + c.Consumer
}

// ensureAdvisories creates the capture stream and its durable consumer
// (named as the intake's).
func ensureAdvisories(ctx context.Context, js jetstream.JetStream, cfg Config) (jetstream.Consumer, error) {
	err := ensureStream(ctx, js, jetstream.StreamConfig{
		Name:        cfg.AdvisoryStream,
		Description: "max-deliveries advisories of the remediator intake consumer",
		Subjects:    []string{cfg.advisorySubject()},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", cfg.AdvisoryStream, err)
	}
	return ensureConsumer(ctx, js, cfg.AdvisoryStream, jetstream.ConsumerConfig{
		Durable: cfg.Consumer, AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxDeliver: -1, Replicas: cfg.Replicas,
	})
}

// maxDeliveries is the part of the advisory the worker uses.
type maxDeliveries struct {
	Stream     string `json:"stream"`
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// MoveExhausted dead-letters the message a max-deliveries advisory names,
// then deletes it from the intake stream. made says a dead letter was
// made and recorded, and d is its decision (to log), even when the delete
// then failed. An advisory it does not understand, or whose message was
// settled meanwhile, moves nothing and is no error. The message is read
// with getStored, not Stream.GetMsg, which fails on a header block
// nats.go cannot parse: that message too must leave the intake. On an
// error the advisory is to be retried: the dead letter is deduplicated.
func (x *DeadLetterer) MoveExhausted(ctx context.Context, advisory []byte) (d audit.Decision, made bool, err error) {
	var a maxDeliveries
	if err := json.Unmarshal(advisory, &a); err != nil {
		return d, false, nil // not an advisory we understand: nothing to move
	}
	st, err := x.js.Stream(ctx, x.cfg.Stream)
	if err != nil {
		return d, false, err
	}
	raw, err := x.getStored(ctx, x.cfg.Stream, a.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return d, false, nil // settled meanwhile
	}
	if err != nil {
		return d, false, err
	}
	// Without a ce-id (an undecodable event) the audit record's id falls
	// back to the stream sequence (audit.Stream.recordID).
	d = audit.Decision{Event: audit.Event{Subject: raw.subject, Sequence: a.StreamSeq, Attempt: int(a.Deliveries), EventID: raw.header.Get("ce-id")}}
	fail := action.Errorf(action.Permanent, audit.ReasonMaxDeliveries, "",
		"delivered %d times without being settled (the worker crashed or hung on each delivery)", a.Deliveries)
	d, err = x.deadLetter(ctx, raw.original(x.cfg.Stream, a.StreamSeq), d, fail, nil)
	if err != nil {
		return d, false, err
	}
	return d, true, st.DeleteMsg(ctx, a.StreamSeq)
}
