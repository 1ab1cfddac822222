package worker

import (
	"context"
	"errors"
	"time"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/approval"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/coalesce"
)

// The pipeline: one matched rule's action for one event goes down a chain
// of middlewares to the action. Each middleware owns one concern and its
// clean-up, around the rest of the chain:
//
//	measure   the action's duration: the decision's and the histogram's
//	trace     the rule's span, continuing the event's traceparent
//	prepare   the action and the job's facts; parameter errors stop here
//	coalesce  answered by a read that began after the event was stored, or
//	          wait for the read in flight; ends the read and shares it
//	dryRun    a dry run reads and plans: no write slot, no lease
//	gate      a rule that requires approval plans and stores the plan
//	          (approval.go); an approved execution passes
//	slots     the write limits and circuits: a slot, confirmed if it wrote
//	leases    the event's and the resource's leases, the fence on writes,
//	          the done record
//	ensure    the action itself: read, write, verify
//
// A new concern is one more middleware in the list in newPipeline.

// job is one matched rule's action for one event.
type job struct {
	mt     rules.Match
	env    *events.Envelope
	base   audit.Decision
	act    action.Action
	obsKey string            // the observation key: the action and its params
	first  bool              // on its first attempt: may be answered by an observation
	dry    bool              // plan only
	in     coalesce.Interest // what another replica's read may answer
	orig   original          // the message, for a plan to keep
	// approved is the plan being executed, approved (approval.go).
	approved *approval.Plan
}

// step runs a job; a middleware wraps one.
type (
	step       func(ctx context.Context, j *job) (ran, *action.Error)
	middleware func(step) step
)

// chain wraps last in mws, the first outermost.
func chain(last step, mws ...middleware) step {
	for i := len(mws) - 1; i >= 0; i-- {
		last = mws[i](last)
	}
	return last
}

func (w *Worker) newPipeline() step {
	return chain(w.ensureStep, w.measure, w.trace, w.prepare, w.coalesce, w.dryRun, w.gate, w.slots, w.leases)
}

// measure times the rest of the chain, for the decision (ran.took) and
// the action_duration_seconds histogram. The outcome counters are the
// decisions' (settle's), since only settle knows what became of a failure.
func (w *Worker) measure(next step) step {
	return func(ctx context.Context, j *job) (ran, *action.Error) {
		start := time.Now()
		out, ferr := next(ctx, j)
		out.took = time.Since(start)
		w.metrics.duration.WithLabelValues(j.mt.Rule.Action).Observe(out.took.Seconds())
		return out, ferr
	}
}

// trace opens the rule's span around the rest of the chain. With no
// tracer provider configured there is no span to open: the chain runs in
// the event's context, which still carries the trace the event named, for
// the providers to send with their calls.
func (w *Worker) trace(next step) step {
	if !w.tracing {
		return next
	}
	return func(ctx context.Context, j *job) (ran, *action.Error) {
		ctx, span := w.startRule(ctx, j.base)
		out, ferr := next(ctx, j)
		endRule(span, out, ferr)
		return out, ferr
	}
}

// prepare checks the match and fills in the job: the action, the
// observation key, whether the event is on its first attempt.
func (w *Worker) prepare(next step) step {
	return func(ctx context.Context, j *job) (ran, *action.Error) {
		mt := j.mt
		if mt.Err != nil {
			var pe *rules.ParamError
			if errors.As(mt.Err, &pe) {
				return ran{}, &action.Error{Class: action.Permanent, Reason: action.ReasonInvalidParams, Msg: mt.Err.Error(), Err: mt.Err}
			}
			return ran{}, &action.Error{Class: action.Permanent, Reason: audit.ReasonRuleError, Msg: mt.Err.Error(), Err: mt.Err}
		}
		a, ok := w.actions.Get(mt.Rule.Action)
		if !ok {
			return ran{}, action.Errorf(action.Permanent, audit.ReasonRuleError, "", "action %s is not registered", mt.Rule.Action)
		}
		// Only an event on its first attempt is answered from an
		// observation (deliveries that only waited are no attempts, unless
		// a rule did work on them first): one redelivered after an attempt
		// may have been acted on by it, and its ledger record, not a newer
		// read, says what that attempt did (so its audit record is the same).
		j.act, j.obsKey = a, coalesce.Key(mt.Rule.Action, mt.Params)
		j.first, j.dry = j.base.Attempt <= 1 && !coalesce.WorkedBefore(ctx), w.cfg.DryRun || mt.Rule.DryRun
		resource := ""
		if rp := mt.Rule.ResourceParam(); rp != "" {
			resource = mt.Params[rp]
		}
		j.in = coalesce.InterestIn(mt.Rule.Action, resource, j.obsKey, j.base.Sequence, j.first)
		return next(ctx, j)
	}
}

// coalesce answers the job from an observation, or waits for the read of
// the same thing in flight here; otherwise its read is the next one, and
// it ends (answering the events that waited for it) after the rest of the
// chain, leases released.
func (w *Worker) coalesce(next step) step {
	return func(ctx context.Context, j *job) (ran, *action.Error) {
		ob, covered, end, err := w.obs.Start(ctx, j.obsKey, j.base.Sequence, j.first)
		if err != nil {
			return ran{}, waitFailed(err, w.cfg.RetryBase)
		}
		if covered {
			return coalesced(ob), nil
		}
		out, ferr := next(ctx, j)
		if out.shared != nil {
			w.obs.Adopt(j.obsKey, *out.shared) // before the end: the events waiting here see it
		}
		if seen, ok := end(out.read); ok && !j.dry {
			w.obs.Share(w.ledger, j.in, seen)
		}
		return out, ferr
	}
}

// dryRun runs a dry run's read straight away: it takes no write slot and
// no lease.
func (w *Worker) dryRun(next step) step {
	return func(ctx context.Context, j *job) (ran, *action.Error) {
		if j.dry {
			return w.ensureStep(ctx, j)
		}
		return next(ctx, j)
	}
}

// slots checks the circuits and takes the write slots of the rule's (and
// the global) limits (see slots.go); a slot becomes a write if the action
// wrote, and is handed back otherwise.
func (w *Worker) slots(next step) step {
	return func(ctx context.Context, j *job) (ran, *action.Error) {
		slots, refused := w.guard.Take(ctx, j.mt.Rule, time.Now())
		if refused != nil {
			return ran{}, w.refused(ctx, j.base, refused)
		}
		out, ferr := next(ctx, j)
		if out.wrote {
			slots.Confirm(time.Now()) // after the write: it never leaves the window too early
		} else {
			slots.Release()
		}
		return out, ferr
	}
}

// leases holds the event's and the resource's leases around the action,
// fences its writes, and replaces the event lease with the done record. A
// delivery that lost its event lease gets Superseded: the one that took it
// records the outcome.
func (w *Worker) leases(next step) step {
	return func(ctx context.Context, j *job) (ran, *action.Error) {
		held, out, ferr := w.hold(ctx, j.mt, j.env, j.in)
		if ferr != nil || held == nil {
			return out, ferr
		}
		out, ferr = next(action.WithFence(ctx, held.fence), j)
		if lost := held.finish(ctx, out, ferr); lost != nil {
			// What was read and written stays known to the middlewares
			// above (the observation, the write slot).
			out, ferr = ran{read: out.read, wrote: out.wrote}, lost
		}
		return out, ferr
	}
}

// ensureStep runs the action.
func (w *Worker) ensureStep(ctx context.Context, j *job) (ran, *action.Error) {
	out, ferr := w.ensure(ctx, j.act, j.mt, j.env, j.dry)
	out.read, out.wrote = found(out, ferr), ferr == nil && out.outcome == audit.Remediated
	return out, ferr
}
