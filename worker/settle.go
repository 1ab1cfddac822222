package worker

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/streams"
)

// settleTimeout bounds the acks and publishes that settle one message;
// they run even when the worker is shutting down.
const settleTimeout = 10 * time.Second

// delivery is where one delivery of a message stands in its budget.
type delivery struct {
	attempt int // deliveries that were attempts, this one included
	waits   int // earlier deliveries that only waited (busy) or were handed back
	// worked: a delivery before this one did work (a rule completed)
	// before it waited, so this one must not be answered by an observation.
	worked bool
	// uncertain: the wait count could not be read, so attempt may count
	// waits; the event is not dead-lettered for exhausting its attempts
	// on that count (the consumer's own MaxDeliver still bounds it).
	uncertain bool
}

// settle is the one place that decides what becomes of a message.
func (w *Worker) settle(m jetstream.Msg, meta *jetstream.MsgMetadata, dl delivery, v verdict, stopping bool) {
	fail := v.failure
	if fail == nil {
		var after func(context.Context)
		if dl.waits > 0 { // its wait count goes once it is acked
			after = func(ctx context.Context) { w.forgetWaits(ctx, meta, dl) }
		}
		w.ack(m, v.decisions, dl.attempt, after)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	switch {
	case fail.Class == action.Superseded:
		w.abandon(v)
	case fail.Class == action.Retryable && stopping && fail.Reason == action.ReasonCanceled:
		// Work cut off may have written: this counts as an attempt, so the
		// redelivery goes to the ledger, not to an observation.
		w.release(ctx, m, v.failed, fail)
	case fail.Class == action.Retryable && fail.Reason == audit.ReasonBusy && dl.waits < w.cfg.MaxWaits:
		// Waiting for another delivery's lease is not an attempt: the
		// attempts are kept for real failures. A rule before the busy one
		// may have written, though: then the wait is marked worked, and the
		// redeliveries read the ledger rather than an observation.
		w.addWait(ctx, meta, dl, len(v.decisions) > 0)
		w.retry(ctx, m, v, dl)
	case fail.Class == action.Retryable && (dl.attempt < w.cfg.MaxDeliver || dl.uncertain):
		w.ledger.NoteFailure(ctx, meta.Stream, meta.Sequence.Stream)
		w.retry(ctx, m, v, dl)
	default:
		if fail.Class == action.Retryable && fail.Reason != audit.ReasonCircuitOpen {
			fail = &action.Error{Class: action.Permanent, Reason: audit.ReasonExhausted, Code: fail.Code,
				Msg: "gave up after " + itoa(dl.attempt) + " attempts: " + fail.Error(), Err: fail}
		}
		w.kill(ctx, m, meta, v, fail)
		w.forgetWaits(ctx, meta, dl)
	}
}

// abandon leaves a message whose event lease another delivery took over
// to that delivery: no write was sent after the lease was lost, nothing is
// recorded and the message is neither acked nor Naked (settling a stale
// delivery could settle the live one). If nobody holds it, the server
// redelivers it after the ack wait.
func (w *Worker) abandon(v verdict) {
	d := failed(v, audit.Superseded)
	w.logDecision(d)
}

// ack starts recording the decisions, then hands the message to confirm,
// which waits for the records to be durable before it DoubleAcks.
// Recording starts here, in the handler, but nothing waits for it here:
// the handler takes its next message while the records and the ack are on
// their way (README, Performance). after runs once the message is acked.
func (w *Worker) ack(m jetstream.Msg, ds []audit.Decision, attempt int, after func(context.Context)) {
	a := pendingAck{m: m, decisions: ds, attempt: attempt, after: after}
	// A Starter only starts its records here (confirm bounds the wait); a
	// recorder that records before it returns gets the settling bound.
	ctx := context.Background()
	if _, starts := w.rec.(audit.Starter); !starts {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, settleTimeout)
		defer cancel()
	}
	for i := range ds {
		ds[i].Final = true
		p, err := audit.Start(ctx, w.rec, ds[i])
		if err != nil {
			w.recordFailed(m, ds[i], err)
			return
		}
		a.records = append(a.records, p)
	}
	if w.acks == nil {
		w.confirm(a)
		return
	}
	w.acks <- a
}

// pendingAck is a message whose decisions are being recorded, to be
// DoubleAcked once they are.
type pendingAck struct {
	m         jetstream.Msg
	decisions []audit.Decision
	records   []audit.Pending
	attempt   int
	after     func(context.Context) // once acked (nil: nothing)
}

// confirm waits for the message's records, logs its decisions, and
// DoubleAcks: it sends the ack and waits for the server to confirm it. A
// record that failed makes the message wait for a retry instead (the
// records' ids make the retry's records replace, not repeat, those that
// were stored). Run has a pool of goroutines do this, so that a handler
// moves on to its next message meanwhile (README, Performance). Nothing
// waits on the ack's outcome: a failed ack is only logged, and the
// redelivery it causes finds the work done.
func (w *Worker) confirm(a pendingAck) {
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	for i, p := range a.records {
		if err := p(ctx); err != nil {
			w.recordFailed(a.m, a.decisions[i], err)
			return
		}
	}
	for _, d := range a.decisions {
		w.logDecision(d)
	}
	if err := a.m.DoubleAck(ctx); err != nil {
		// The work is done and idempotent: a redelivery finds it compliant.
		w.log.Warn("ack_failed", zap.String("event_id", first(a.decisions).EventID), zap.Int("attempt", a.attempt), zap.Error(err))
		return
	}
	if a.after != nil {
		a.after(ctx)
	}
}

// recordFailed hands back a message whose record could not be stored.
func (w *Worker) recordFailed(m jetstream.Msg, d audit.Decision, err error) {
	w.log.Error("record_failed", zap.String("event_id", d.EventID), zap.Error(err))
	w.nakDelay(m, w.cfg.RetryBase)
}

// retry Naks with a backoff delay. A delivery that found the work busy
// backs off by how many times it waited, and never past the end of the
// lease it waits for; one whose holder stopped renewing (crashed) waits
// for that end in one delay.
func (w *Worker) retry(ctx context.Context, m jetstream.Msg, v verdict, dl delivery) {
	delay := w.cfg.backoff(dl.attempt, v.failure.Reason, w.rnd)
	if ra := v.failure.RetryAfter; ra > 0 {
		delay = min(ra, w.cfg.RetryMax)
		if v.failure.Reason == audit.ReasonBusy {
			delay = min(w.cfg.backoff(dl.waits+1, audit.ReasonBusy, w.rnd), ra)
			if v.failure.WaitFull {
				delay = ra
			}
		}
	}
	d := failed(v, audit.Retrying)
	if err := w.rec.Record(ctx, d); err != nil {
		w.log.Error("record_failed", zap.String("event_id", d.EventID), zap.Error(err))
	}
	w.logDecision(d, zap.Duration("retry_in", delay))
	w.nakDelay(m, delay)
}

// kill dead-letters the message, records it, and only then Terms it. If
// either fails the message is Naked: the dead-letter publish is
// deduplicated, so the retry stores it once.
func (w *Worker) kill(ctx context.Context, m jetstream.Msg, meta *jetstream.MsgMetadata, v verdict, fail *action.Error) {
	o := streams.Original{Subject: m.Subject(), Header: m.Headers(), Data: m.Data(), Stream: meta.Stream, Seq: meta.Sequence.Stream}
	d, err := w.dead.DeadLetter(ctx, o, v.failed, fail, v.decisions)
	if err != nil {
		w.log.Error("dead_letter_failed", zap.String("event_id", d.EventID), zap.Uint64("stream_seq", meta.Sequence.Stream), zap.Error(err))
		w.nakDelay(m, w.cfg.backoff(d.Attempt, action.ReasonUnavailable, w.rnd))
		return
	}
	w.logDecision(d)
	if err := m.TermWithReason(string(fail.Reason)); err != nil && !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
		w.log.Warn("term_failed", zap.String("event_id", d.EventID), zap.Error(err))
	}
}

// release hands an unfinished message back at shutdown.
func (w *Worker) release(ctx context.Context, m jetstream.Msg, d audit.Decision, fail *action.Error) {
	d.Outcome, d.Reason = audit.Released, fail.Reason
	if err := w.rec.Record(ctx, d); err != nil {
		w.log.Error("record_failed", zap.String("event_id", d.EventID), zap.Error(err))
	}
	w.logDecision(d)
	if err := m.Nak(); err != nil {
		w.log.Warn("nak_failed", zap.String("event_id", d.EventID), zap.Error(err))
	}
}

func (w *Worker) nakDelay(m jetstream.Msg, d time.Duration) {
	if err := m.NakWithDelay(d); err != nil {
		w.log.Warn("nak_failed", zap.Error(err))
	}
}

func failed(v verdict, o audit.Outcome) audit.Decision {
	d := v.failed
	d.Outcome, d.Reason, d.Code, d.Error = o, v.failure.Reason, v.failure.Code, v.failure.Error()
	return d
}

// logDecision writes the one log line per decision.
func (w *Worker) logDecision(d audit.Decision, extra ...zap.Field) {
	w.counts.add(d.Outcome)
	w.metrics.observe(d, d.Arrived)
	ce := w.log.Check(zap.InfoLevel, "decision")
	if ce == nil {
		return // not logged at this level: build no fields
	}
	fp, _ := w.decisionFields.Get().(*[]zap.Field)
	if fp == nil {
		fp = new([]zap.Field) // the eight fields, extra ones and up to four more
		*fp = make([]zap.Field, 0, 16)
	}
	fields := (*fp)[:0]
	fields = append(fields,
		zap.String("event_id", d.EventID),
		zap.String("event_type", d.EventType),
		zap.String("rule", d.Rule),
		zap.String("action", d.Action),
		zap.String("outcome", string(d.Outcome)),
		zap.String("reason", string(d.Reason)),
		zap.Int("attempt", d.Attempt),
		zap.Uint64("stream_seq", d.Sequence))
	fields = append(fields, extra...)
	if d.Code != "" {
		fields = append(fields, zap.String("code", d.Code))
	}
	if d.Error != "" {
		fields = append(fields, zap.String("error", d.Error))
	}
	if d.Detail != "" {
		fields = append(fields, zap.String("detail", d.Detail))
	}
	if d.Duration > 0 {
		fields = append(fields, zap.Duration("duration", d.Duration))
	}
	ce.Write(fields...) // zap's cores encode or copy the fields; none keeps the slice
	clear(fields)
	*fp = fields[:0]
	w.decisionFields.Put(fp)
}

func first(ds []audit.Decision) audit.Decision {
	if len(ds) == 0 {
		return audit.Decision{}
	}
	return ds[0]
}
