package worker

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/guard"
)

// writeGuard is the blast-radius guard (*guard.Guard) as the worker uses
// it: the circuits watch, run by Run, and the check before a write, run by
// the slots middleware.
type writeGuard interface {
	Watch(ctx context.Context)
	Take(ctx context.Context, r *rules.Rule, now time.Time) (guard.Slots, *guard.Refusal)
	OpenCircuits() int
}

// refused turns what the guard refused into the job's error: every
// refusal is retried, after the circuit's wait or the retry base. When
// this call opened a circuit it records that, once, as a final
// circuit_open decision.
func (w *Worker) refused(ctx context.Context, base audit.Decision, rf *guard.Refusal) *action.Error {
	if rf.Tripped {
		d := base
		d.Rule, d.Action, d.Outcome, d.Final = rf.Rule, "", audit.CircuitOpen, true
		d.Detail = "write limit exceeded: rule " + rf.Rule + " paused until resumed or " + w.cfg.CircuitCooldown.String() + " pass"
		if err := w.rec.Record(ctx, d); err != nil {
			w.log.Error("record_failed", zap.Error(err))
		}
		w.logDecision(d)
	}
	e := &action.Error{Class: action.Retryable, Msg: rf.Msg, Err: rf.Err}
	switch rf.Kind {
	case guard.CircuitOpen:
		e.Reason, e.RetryAfter = audit.ReasonCircuitOpen, rf.Wait
	case guard.Busy:
		e.Reason, e.RetryAfter = audit.ReasonBusy, w.cfg.RetryBase
	default: // guard.Unavailable: fail closed
		e.Reason, e.RetryAfter = action.ReasonUnavailable, w.cfg.RetryBase
	}
	return e
}
