package worker

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/audit"
)

// Waits. The server counts every delivery of a message, but a delivery
// that only found another delivery's lease held (busy), or that was handed
// back at shutdown, was no attempt at the work: spending the attempts on
// such waits dead-lettered valid events after a crash left leases behind.
// So the worker counts them per message in the ledger bucket
// (w.<hash(stream, sequence)>), subtracts them from the server's delivery
// count, and gives the consumer MaxDeliver+MaxWaits deliveries.

func waitsKey(stream string, seq uint64) string {
	return ledgerKey("w", stream, strconv.FormatUint(seq, 10))
}

// deliveryOf reads where a delivery stands. A first delivery costs no
// round trip: nothing can have waited before it.
func (w *Worker) deliveryOf(ctx context.Context, meta *jetstream.MsgMetadata) delivery {
	n := int(meta.NumDelivered)
	if n <= 1 {
		return delivery{attempt: n}
	}
	e, err := w.ledger.kv.Get(ctx, waitsKey(meta.Stream, meta.Sequence.Stream))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return delivery{attempt: n} // it never waited
	}
	if err != nil {
		w.log.Warn("waits_unreadable", zap.Uint64("stream_seq", meta.Sequence.Stream), zap.Error(err))
		return delivery{attempt: n, uncertain: true}
	}
	v, worked := strings.CutSuffix(string(e.Value()), "+")
	waits, err := strconv.Atoi(v)
	if err != nil || waits < 0 || waits >= n {
		return delivery{attempt: n}
	}
	return delivery{attempt: n - waits, waits: waits, worked: worked}
}

// addWait records that this delivery waited, and whether a rule did work
// on it or an earlier one before the wait (worked): then the message's
// redeliveries must read the ledger, not an observation, for those rules.
func (w *Worker) addWait(ctx context.Context, meta *jetstream.MsgMetadata, dl delivery, worked bool) {
	v := strconv.Itoa(dl.waits + 1)
	if worked || dl.worked {
		v += "+"
	}
	if _, err := w.ledger.kv.Put(ctx, waitsKey(meta.Stream, meta.Sequence.Stream), []byte(v)); err != nil {
		w.log.Warn("wait_not_counted", zap.Uint64("stream_seq", meta.Sequence.Stream), zap.Error(err))
	}
}

// forgetWaits drops a settled message's count.
func (w *Worker) forgetWaits(ctx context.Context, meta *jetstream.MsgMetadata, dl delivery) {
	if dl.waits > 0 {
		_ = w.ledger.kv.Delete(ctx, waitsKey(meta.Stream, meta.Sequence.Stream))
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
