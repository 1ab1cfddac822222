package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/audit"
)

// A message that reaches MaxDeliver without the worker settling it (the
// worker crashed on each delivery) stays in the work-queue stream and is
// never delivered again. The server announces it with a core-NATS
// advisory; a stream captures those so none is missed while no worker
// runs, and the worker moves each such message to the dead-letter stream.

func (c Config) advisorySubject() string {
	return "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + c.Stream + "." + c.Consumer
}

// ensureAdvisories creates the capture stream and its durable consumer.
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

// runAdvisories moves each announced message until ctx ends.
func (w *Worker) runAdvisories(ctx context.Context, cons jetstream.Consumer) {
	it, err := cons.Messages(jetstream.PullMaxMessages(1))
	if err != nil {
		w.log.Error("advisories_unavailable", zap.Error(err))
		return
	}
	go func() { <-ctx.Done(); it.Stop() }()
	for {
		m, err := it.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			continue
		}
		if err := w.moveExhausted(ctx, m.Data()); err != nil {
			w.log.Error("max_deliveries_move_failed", zap.Error(err))
			_ = m.NakWithDelay(w.cfg.RetryMax)
			continue
		}
		_ = m.DoubleAck(ctx)
	}
}

// moveExhausted dead-letters the message an advisory names, then deletes
// it from the intake stream. The message is read with getStored, not
// Stream.GetMsg, which fails on a header block nats.go cannot parse: that
// message too must leave the intake.
func (w *Worker) moveExhausted(ctx context.Context, advisory []byte) error {
	var a maxDeliveries
	if err := json.Unmarshal(advisory, &a); err != nil {
		return nil // not an advisory we understand: nothing to move
	}
	st, err := w.js.Stream(ctx, w.cfg.Stream)
	if err != nil {
		return err
	}
	raw, err := w.getStored(ctx, w.cfg.Stream, a.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil // settled meanwhile
	}
	if err != nil {
		return err
	}
	// Without a ce-id (an undecodable event) the audit record's id falls
	// back to the stream sequence (Audit.recordID).
	d := audit.Decision{Event: audit.Event{Subject: raw.subject, Sequence: a.StreamSeq, Attempt: int(a.Deliveries), EventID: raw.header.Get("ce-id")}}
	fail := action.Errorf(action.Permanent, audit.ReasonMaxDeliveries, "",
		"delivered %d times without being settled (the worker crashed or hung on each delivery)", a.Deliveries)
	d, err = w.deadLetter(ctx, raw.original(w.cfg.Stream, a.StreamSeq), d, fail, nil)
	if err != nil {
		return err
	}
	w.logDecision(d, zap.String("stream_seq_moved", strconv.FormatUint(a.StreamSeq, 10)))
	return st.DeleteMsg(ctx, a.StreamSeq)
}
