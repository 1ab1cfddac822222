package worker

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/approval"
	"github.com/remediator/remediator/worker/audit"
)

// Approvals (README, Approvals). A rule that requires approval does not
// write when its event comes: the gate middleware runs the action as a dry
// run and stores the plan; the event is acked as awaiting_approval. People
// approve or deny the plan in the bucket (`remediator approvals`, or the
// HTTP API), which then announces it with a control event on the intake;
// the control step reads the plan, not the event, and runs an approved
// plan's action through the rest of the pipeline as the original event's,
// so the ledger, the leases, the limits and the audit trail apply as to
// any event, and two deliveries or replicas execute it once.

// gate holds a rule that requires approval: it plans, stores the plan and
// answers awaiting_approval. An approved execution passes.
func (w *Worker) gate(next step) step {
	return func(ctx context.Context, j *job) (ran, *action.Error) {
		a := j.mt.Rule.Approval
		if a == nil || j.approved != nil {
			return next(ctx, j)
		}
		j.dry = true
		out, ferr := w.ensureStep(ctx, j)
		j.dry = false
		if ferr != nil || out.outcome != audit.Planned {
			return out, ferr // compliant already, or the read failed: nothing to approve
		}
		p := approval.Plan{
			ID: approval.ID(j.mt.Rule.Name, j.base.Resource, j.mt.Params), Rule: j.mt.Rule.Name, Action: j.mt.Rule.Action,
			Params: j.mt.Params, Resource: j.base.Resource, Before: out.res.Before, Planned: out.res.After,
			Event:     approval.Event{ID: j.base.EventID, Source: j.base.EventSource, Type: j.base.EventType, Subject: j.base.Subject},
			Original:  approval.Original{Header: j.orig.header, Data: j.orig.data},
			Approvers: a.Approvers,
		}
		if f := j.env.Finding; f != nil {
			p.Actor = approval.Actor{Type: f.Actor.Type, ID: f.Actor.ID, Name: f.Actor.Name}
		}
		p, joined, err := w.approvals.Open(ctx, p, a.TTL)
		if err != nil {
			return ran{}, &action.Error{Class: action.Retryable, Reason: action.ReasonUnavailable, Msg: err.Error(), Err: err}
		}
		out.outcome, out.approvalID = audit.AwaitingApproval, p.ID
		out.detail = "approval " + p.ID + " needs " + itoa(p.Approvers) + " approver(s) by " + p.Expires.Format(time.RFC3339)
		if joined {
			out.detail = "joined the pending " + out.detail
		}
		return out, nil
	}
}

// control handles the control events of approvals (approved, denied,
// expired) in place of the rules; other events go on.
func (w *Worker) control(ctx context.Context, e *eventJob) *verdict {
	if !approval.IsControl(e.env.Event.Type(), e.env.Event.Source()) {
		return nil
	}
	var c approval.Control
	if err := json.Unmarshal(e.env.Event.Data(), &c); err != nil || c.ApprovalID == "" {
		return &verdict{failed: e.base, failure: action.Errorf(action.Permanent, audit.ReasonInvalidEvent, "",
			"approval control event without an approval_id in its data")}
	}
	p, _, err := w.approvals.Get(ctx, c.ApprovalID)
	switch {
	case errors.Is(err, approval.ErrNotFound):
		return &verdict{failed: e.base, failure: action.Errorf(action.Permanent, audit.ReasonInvalidEvent, "", "%v", err)}
	case err != nil:
		return &verdict{failed: e.base, failure: &action.Error{Class: action.Retryable, Reason: action.ReasonUnavailable, Msg: err.Error(), Err: err}}
	}
	switch p.State {
	case approval.Approved, approval.Executed:
		return w.execute(ctx, e, p)
	case approval.Denied, approval.Expired:
		return w.refuse(ctx, e, p)
	}
	// Still pending: the control event says more than the plan (a stale
	// or forged event). The plan decides; nothing to do.
	w.log.Warn("approval_control_ignored", zap.String("approval_id", p.ID), zap.String("state", string(p.State)),
		zap.String("event_type", e.env.Event.Type()))
	return &verdict{}
}

// execute runs an approved plan's action as the original event's.
func (w *Worker) execute(ctx context.Context, e *eventJob, p approval.Plan) *verdict {
	d := w.planDecision(e.base, p)
	d.Approval = &audit.Approval{Approvers: p.ApprovedBy(), Comments: p.Comments()}
	env, err := events.DecodeFinding(ctx, p.Original.Header, p.Original.Data, w.normalizer())
	if err != nil {
		return &verdict{failed: d, failure: &action.Error{Class: action.Permanent, Reason: audit.ReasonInvalidEvent, Msg: "approval " + p.ID + ": stored event: " + err.Error(), Err: err}}
	}
	d.Finding = env.Finding
	for _, mt := range w.rules.Load().Evaluate(env) {
		if mt.Rule.Name != p.Rule {
			continue
		}
		if mt.Err == nil && mt.Skip == "" {
			out, ferr := w.pipeline(eventContext(ctx, env), &job{mt: mt, env: env, base: d, approved: &p})
			d.Duration = out.took
			if ferr != nil {
				return &verdict{failed: d, failure: ferr}
			}
			d.Outcome, d.Before, d.After, d.Detail, d.Reason = out.outcome, out.res.Before, out.res.After, out.detail, out.reason
			w.closePlan(ctx, p, approval.Executed)
			return &verdict{decisions: []audit.Decision{d}}
		}
		break
	}
	// The rule was removed, changed or now skips the event: approving a
	// plan never runs what the rules in force would not.
	d.Outcome, d.Reason = audit.OutOfScope, audit.ReasonScope
	d.Detail = "approved, but rule " + p.Rule + " no longer acts on the event: nothing done"
	w.closePlan(ctx, p, approval.Executed)
	return &verdict{decisions: []audit.Decision{d}}
}

// refuse records a denied or expired plan's outcome for its event.
func (w *Worker) refuse(ctx context.Context, e *eventJob, p approval.Plan) *verdict {
	d := w.planDecision(e.base, p)
	d.Outcome, d.Before, d.After = audit.ApprovalExpired, p.Before, p.Planned
	d.Detail = "nobody approved by " + p.Expires.Format(time.RFC3339) + ": nothing done"
	if p.State == approval.Denied && p.Denial != nil {
		d.Outcome = audit.Denied
		d.Approval = &audit.Approval{DeniedBy: p.Denial.By, Approvers: p.ApprovedBy(), Comments: p.Comments()}
		if p.Denial.Comment != "" {
			d.Approval.Comments = append(d.Approval.Comments, p.Denial.By+": "+p.Denial.Comment)
		}
		d.Detail = "denied by " + p.Denial.By + ": nothing done"
	}
	w.closePlan(ctx, p, "")
	return &verdict{decisions: []audit.Decision{d}}
}

// planDecision is the decision about the plan's original event and rule.
func (w *Worker) planDecision(base audit.Decision, p approval.Plan) audit.Decision {
	d := base
	d.EventID, d.EventSource, d.EventType = p.Event.ID, p.Event.Source, p.Event.Type
	d.Rule, d.Action, d.Params, d.Resource, d.ApprovalID = p.Rule, p.Action, p.Params, p.Resource, p.ID
	return d
}

// closePlan marks the plan settled. A failure is only logged: the janitor
// announces the plan again, and the ledger answers a second execution.
func (w *Worker) closePlan(ctx context.Context, p approval.Plan, state approval.State) {
	if _, err := w.approvals.Close(ctx, p.ID, state); err != nil {
		w.log.Warn("approval_close_failed", zap.String("approval_id", p.ID), zap.Error(err))
	}
}

// janitor expires the pending plans past their TTL, and announces again
// the decided plans no worker settled (their control event lost), every
// ApprovalCheck until ctx ends.
func (w *Worker) janitor(ctx context.Context) {
	t := time.NewTicker(w.cfg.ApprovalCheck)
	defer t.Stop()
	for {
		w.sweepApprovals(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// closedPlanKeep is how long a settled plan stays in the approvals bucket
// (for `approvals list` and `show`) before the janitor deletes it.
const closedPlanKeep = 7 * 24 * time.Hour

func (w *Worker) sweepApprovals(ctx context.Context) {
	plans, err := w.approvals.List(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.Warn("approvals_list_failed", zap.Error(err))
		}
		return
	}
	now := time.Now()
	subject := w.cfg.Streams().IntakeSubject(approval.Source)
	for _, p := range plans {
		switch {
		case p.State == approval.Pending && !now.Before(p.Expires):
			q, changed, err := w.approvals.Expire(ctx, p.ID)
			if err != nil || !changed {
				continue
			}
			p = q
		case p.State != approval.Pending && p.Closed.IsZero() && now.Sub(p.Changed) >= w.cfg.ApprovalCheck:
		case !p.Closed.IsZero() && now.Sub(p.Closed) >= closedPlanKeep:
			// Settled long ago: the audit trail keeps its story.
			if _, err := w.approvals.Forget(ctx, p.ID, now.Add(-closedPlanKeep)); err != nil {
				w.log.Warn("approval_forget_failed", zap.String("approval_id", p.ID), zap.Error(err))
			}
			continue
		default:
			continue
		}
		if err := approval.Announce(ctx, w.js, subject, p); err != nil {
			w.log.Warn("approval_announce_failed", zap.String("approval_id", p.ID), zap.Error(err))
		}
	}
}

// original is the message as it came, kept for a plan.
type original struct {
	header map[string][]string
	data   []byte
}

func originalOf(h map[string][]string, data []byte) original {
	out := make(map[string][]string, len(h))
	for k, v := range h {
		if strings.EqualFold(k, "Nats-Msg-Id") {
			continue
		}
		out[k] = v
	}
	return original{header: out, data: data}
}
