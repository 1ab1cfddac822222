package worker

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/coalesce"
)

// verdict is what handling one message produced: the decisions of the
// rules that completed, and the failure that stopped it, if any.
type verdict struct {
	decisions []audit.Decision
	failure   *action.Error
	failed    audit.Decision // the rule and action that failed
}

// The event's steps, in order, before the rules: each reads or checks the
// event; one that returns a verdict ends the event's handling there (a
// failure settles as a dead letter, a decision is acked). A new kind of
// event check is one more step in newEventSteps.
type (
	eventJob struct {
		m    jetstream.Msg
		env  *events.Envelope
		base audit.Decision
	}
	eventStep func(ctx context.Context, e *eventJob) *verdict
)

func (w *Worker) newEventSteps() []eventStep {
	return []eventStep{w.checkSize, w.decode, w.control, w.normalize, w.trust}
}

// checkSize refuses an event over MaxEventBytes before reading it.
func (w *Worker) checkSize(_ context.Context, e *eventJob) *verdict {
	if n := msgSize(e.m); n > w.cfg.MaxEventBytes {
		return &verdict{failed: e.base, failure: action.Errorf(action.Permanent, audit.ReasonTooLarge, "",
			"event is %d bytes, the limit is %d", n, w.cfg.MaxEventBytes)}
	}
	return nil
}

// decode reads the CloudEvent, binary or structured.
func (w *Worker) decode(ctx context.Context, e *eventJob) *verdict {
	env, err := events.Decode(ctx, e.m.Headers(), e.m.Data())
	if err != nil {
		return &verdict{failed: e.base, failure: &action.Error{Class: action.Permanent, Reason: audit.ReasonInvalidEvent, Msg: err.Error(), Err: err}}
	}
	e.env = env
	e.base.EventID, e.base.EventSource, e.base.EventType = env.Event.ID(), env.Event.Source(), env.Event.Type()
	return nil
}

// normalize reads the event's form into the finding the rules see.
func (w *Worker) normalize(_ context.Context, e *eventJob) *verdict {
	f, err := w.normalizer().Normalize(e.env)
	if err != nil {
		return &verdict{failed: e.base, failure: &action.Error{Class: action.Permanent, Reason: audit.ReasonInvalidEvent, Msg: err.Error(), Err: err}}
	}
	e.env.Finding, e.base.Finding = f, f
	return nil
}

// normalizer reads events' forms as the worker's own: a change one of
// its principals made is marked Self. The event steps above and an
// approved plan's stored event (execute) both read through it.
func (w *Worker) normalizer() events.Normalizer {
	return events.Normalizer{SelfPrincipals: w.cfg.SelfPrincipals}
}

// trust keeps events from sources and accounts off the allowlists away
// from the rules: an untrusted decision, acked.
func (w *Worker) trust(_ context.Context, e *eventJob) *verdict {
	if why := w.untrusted(e.env); why != "" {
		d := e.base
		d.Outcome, d.Reason, d.Detail = audit.Untrusted, audit.ReasonUntrusted, why
		return &verdict{decisions: []audit.Decision{d}}
	}
	return nil
}

// handle runs the event's steps, evaluates the rules and runs the matching
// actions in rule order. It stops at the first failure; rules that ran
// before it are idempotent and simply find compliance on a retry.
func (w *Worker) handle(ctx context.Context, m jetstream.Msg, base audit.Decision) verdict {
	e := &eventJob{m: m, base: base}
	for _, step := range w.steps {
		if v := step(ctx, e); v != nil {
			return *v
		}
	}
	env, base := e.env, e.base
	ctx = eventContext(ctx, env)
	matches := w.rules.Load().Evaluate(env)
	if len(matches) == 0 {
		d := base
		d.Outcome = audit.NoMatch
		return verdict{decisions: []audit.Decision{d}}
	}
	var v verdict
	for _, mt := range matches {
		d := base
		d.Rule, d.Action, d.Params = mt.Rule.Name, mt.Rule.Action, mt.Params
		if rp := mt.Rule.ResourceParam(); rp != "" {
			d.Resource = mt.Params[rp]
		}
		if mt.Skip != "" && mt.Err == nil {
			d.Outcome, d.Detail = skipOutcome(mt.Skip), mt.SkipReason
			d.Reason = audit.ReasonScope
			if mt.Skip == rules.Exempt {
				d.Reason = audit.ReasonExempt
			}
			v.decisions = append(v.decisions, d)
			continue
		}
		out, err := w.run(ctx, mt, env, d, e.m)
		d.Duration = out.took
		if err != nil {
			v.failed, v.failure = d, err
			return v
		}
		d.Outcome, d.Before, d.After, d.Detail, d.Reason = out.outcome, out.res.Before, out.res.After, out.detail, out.reason
		d.ApprovalID = out.approvalID
		v.decisions = append(v.decisions, d)
	}
	return v
}

type ran struct {
	outcome audit.Outcome
	res     action.Result
	detail  string
	reason  action.Reason
	shared  *coalesce.Observation // another replica's observation that answered the event
	read    coalesce.Found        // what the action's read found (for the observation)
	wrote   bool                  // the action wrote (for the write slot), even if the outcome was not recorded
	took    time.Duration         // how long the chain ran (measure)
	// approvalID names the plan the gate stored or joined (approval.go).
	approvalID string
}

// run executes one matched rule's action through the pipeline; d is the
// decision so far (the event's and the rule's); m is the message, for a
// plan awaiting approval to keep.
func (w *Worker) run(ctx context.Context, mt rules.Match, env *events.Envelope, d audit.Decision, m jetstream.Msg) (ran, *action.Error) {
	j := &job{mt: mt, env: env, base: d}
	if mt.Rule.Approval != nil {
		j.orig = originalOf(m.Headers(), m.Data())
	}
	return w.pipeline(ctx, j)
}

// waitFailed is the error of an event that could not wait for a read in
// flight: too many wait already (it is delayed once, as a wait, not an
// attempt), or the worker is stopping.
func waitFailed(err error, delay time.Duration) *action.Error {
	if errors.Is(err, coalesce.ErrCrowded) {
		return &action.Error{Class: action.Retryable, Reason: audit.ReasonBusy, RetryAfter: delay, Msg: err.Error()}
	}
	return action.Classify(err)
}

// coalesced is the outcome of an event answered by an observation.
func coalesced(ob coalesce.Observation) ran {
	return ran{outcome: audit.AlreadyCompliant, reason: audit.ReasonCoalesced,
		detail: "found compliant by a read that began after this event was stored (intake sequence <= " +
			strconv.FormatUint(ob.Mark, 10) + "): no cloud call"}
}

// found is what an action's run says about the state it reads.
func found(out ran, ferr *action.Error) coalesce.Found {
	switch {
	case ferr != nil:
		return coalesce.NotRead
	case out.outcome == audit.AlreadyCompliant || out.outcome == audit.Remediated:
		return coalesce.Compliant
	case out.outcome == audit.Planned:
		return coalesce.Drifted
	}
	return coalesce.NotRead
}

// ensure calls the action and turns its result into an outcome.
func (w *Worker) ensure(ctx context.Context, a action.Action, mt rules.Match, env *events.Envelope, dry bool) (ran, *action.Error) {
	ctx = action.WithActionScope(ctx, mt.Rule.Action, mt.Params)
	res, err := a.Ensure(ctx, action.Request{Params: mt.Params, DryRun: dry, EventID: env.Event.ID()})
	if err != nil {
		ae := action.Classify(err)
		if ae.Class == action.AlreadyDone {
			return ran{outcome: audit.AlreadyCompliant, res: res}, nil
		}
		return ran{}, ae
	}
	switch {
	case res.Changed:
		return ran{outcome: audit.Remediated, res: res}, nil
	case res.Planned:
		return ran{outcome: audit.Planned, res: res}, nil
	}
	return ran{outcome: audit.AlreadyCompliant, res: res}, nil
}

func skipOutcome(s rules.Skip) audit.Outcome {
	if s == rules.Exempt {
		return audit.Exempt
	}
	return audit.OutOfScope
}

// msgSize is the body plus header bytes, what the event costs to carry.
func msgSize(m jetstream.Msg) int {
	n := len(m.Data())
	for k, vs := range m.Headers() {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

// keepAlive tells the server the message is still being worked on every
// interval (AckWait/3), until the returned stop is called. It is a timer,
// not a goroutine per message.
func keepAlive(m jetstream.Msg, every time.Duration) (stop func()) {
	if every <= 0 {
		return func() {} // an ack wait under 3ns: nothing sensible to do
	}
	var mu sync.Mutex
	stopped := false
	mu.Lock()
	defer mu.Unlock()
	var t *time.Timer
	t = time.AfterFunc(every, func() {
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			_ = m.InProgress()
			t.Reset(every)
		}
	})
	return func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		t.Stop()
	}
}
