package worker

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/ledger"
)

// deliveryOf reads where a delivery stands. A first delivery costs no
// round trip: nothing can have waited before it.
func (w *Worker) deliveryOf(ctx context.Context, meta *jetstream.MsgMetadata) delivery {
	n := int(meta.NumDelivered)
	if n <= 1 {
		return delivery{attempt: n}
	}
	ws, err := w.ledger.Waits(ctx, meta.Stream, meta.Sequence.Stream)
	if err != nil && !errors.Is(err, ledger.ErrMalformed) {
		w.log.Warn("waits_unreadable", zap.Uint64("stream_seq", meta.Sequence.Stream), zap.Error(err))
		return delivery{attempt: n, uncertain: true}
	}
	if err != nil || ws.Count >= n {
		return delivery{attempt: n}
	}
	return delivery{attempt: n - ws.Count, waits: ws.Count, worked: ws.Worked}
}

// addWait records that this delivery waited, and whether a rule did work
// on it or an earlier one before the wait (worked): then the message's
// redeliveries must read the ledger, not an observation, for those rules.
func (w *Worker) addWait(ctx context.Context, meta *jetstream.MsgMetadata, dl delivery, worked bool) {
	ws := ledger.Waits{Count: dl.waits + 1, Worked: worked || dl.worked}
	if err := w.ledger.SetWaits(ctx, meta.Stream, meta.Sequence.Stream, ws); err != nil {
		w.log.Warn("wait_not_counted", zap.Uint64("stream_seq", meta.Sequence.Stream), zap.Error(err))
	}
}

// forgetWaits drops a settled message's count.
func (w *Worker) forgetWaits(ctx context.Context, meta *jetstream.MsgMetadata, dl delivery) {
	if dl.waits > 0 {
		w.ledger.ForgetWaits(ctx, meta.Stream, meta.Sequence.Stream)
	}
}

// handBack Naks a message the worker took but did not start (shutdown),
// counting the delivery as a wait: nothing was done with it.
func (w *Worker) handBack(ctx context.Context, m jetstream.Msg) {
	if meta, err := m.Metadata(); err == nil {
		w.addWait(ctx, meta, w.deliveryOf(ctx, meta), false)
	}
	_ = m.Nak()
}

// unsettled is the failure of a delivery past its attempts: the deliveries
// before it ended without settling (the worker crashed, hung or lost its
// lease on each), so it is dead-lettered before being tried again.
func unsettled(dl delivery) *action.Error {
	return action.Errorf(action.Permanent, audit.ReasonMaxDeliveries, "",
		"delivered %d times (%d of them waits) without being settled: the worker crashed, hung or lost its lease on each", dl.attempt+dl.waits-1, dl.waits)
}
