package worker

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/audit"
)

// verdict is what handling one message produced: the decisions of the
// rules that completed, and the failure that stopped it, if any.
type verdict struct {
	decisions []audit.Decision
	failure   *action.Error
	failed    audit.Decision // the rule and action that failed
}

// handle decodes one message, evaluates the rules and runs the matching
// actions in rule order. It stops at the first failure; rules that ran
// before it are idempotent and simply find compliance on a retry.
func (w *Worker) handle(ctx context.Context, m jetstream.Msg, base audit.Decision) verdict {
	if n := msgSize(m); n > w.cfg.MaxEventBytes {
		return verdict{failed: base, failure: action.Errorf(action.Permanent, audit.ReasonTooLarge, "",
			"event is %d bytes, the limit is %d", n, w.cfg.MaxEventBytes)}
	}
	env, err := events.Decode(ctx, m.Headers(), m.Data())
	if err != nil {
		return verdict{failed: base, failure: &action.Error{Class: action.Permanent, Reason: audit.ReasonInvalidEvent, Msg: err.Error(), Err: err}}
	}
	base.EventID, base.EventSource, base.EventType = env.Event.ID(), env.Event.Source(), env.Event.Type()
	if env.Finding, err = (events.Normalizer{SelfPrincipals: w.cfg.SelfPrincipals}).Normalize(env); err != nil {
		return verdict{failed: base, failure: &action.Error{Class: action.Permanent, Reason: audit.ReasonInvalidEvent, Msg: err.Error(), Err: err}}
	}
	base.Finding = env.Finding
	ctx = eventContext(ctx, env)
	if why := w.untrusted(env); why != "" {
		d := base
		d.Outcome, d.Reason, d.Detail = audit.Untrusted, audit.ReasonUntrusted, why
		return verdict{decisions: []audit.Decision{d}}
	}
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
		start := time.Now()
		out, err := w.run(ctx, mt, env, d)
		d.Duration = time.Since(start)
		if err != nil {
			v.failed, v.failure = d, err
			return v
		}
		d.Outcome, d.Before, d.After, d.Detail, d.Reason = out.outcome, out.res.Before, out.res.After, out.detail, out.reason
		v.decisions = append(v.decisions, d)
	}
	return v
}

type ran struct {
	outcome audit.Outcome
	res     action.Result
	detail  string
	reason  action.Reason
	shared  *observation // another replica's observation that answered the event
	read    observed     // what the action's read found (for the observation)
	wrote   bool         // the action wrote (for the write slot), even if the outcome was not recorded
}

// run executes one matched rule's action through the pipeline; d is the
// decision so far (the event's and the rule's).
func (w *Worker) run(ctx context.Context, mt rules.Match, env *events.Envelope, d audit.Decision) (ran, *action.Error) {
	return w.pipeline(ctx, &job{mt: mt, env: env, base: d})
}

// waitFailed is the error of an event that could not wait for a read in
// flight: too many wait already (it is delayed once, as a wait, not an
// attempt), or the worker is stopping.
func waitFailed(err error, delay time.Duration) *action.Error {
	if errors.Is(err, errCrowded) {
		return &action.Error{Class: action.Retryable, Reason: audit.ReasonBusy, RetryAfter: delay, Msg: err.Error()}
	}
	return action.Classify(err)
}

// coalesced is the outcome of an event answered by an observation.
func coalesced(ob observation) ran {
	return ran{outcome: audit.AlreadyCompliant, reason: audit.ReasonCoalesced,
		detail: "found compliant by a read that began after this event was stored (intake sequence <= " +
			strconv.FormatUint(ob.mark, 10) + "): no cloud call"}
}

// found is what an action's run says about the state it reads.
func found(out ran, ferr *action.Error) observed {
	switch {
	case ferr != nil:
		return notRead
	case out.outcome == audit.AlreadyCompliant || out.outcome == audit.Remediated:
		return compliant
	case out.outcome == audit.Planned:
		return drifted
	}
	return notRead
}

// ensure calls the action and turns its result into an outcome.
func (w *Worker) ensure(ctx context.Context, a action.Action, mt rules.Match, env *events.Envelope, dry bool) (ran, *action.Error) {
	provider, _, _ := strings.Cut(mt.Rule.Action, ".")
	ctx = action.WithRateScope(ctx, provider, mt.Params["account"], mt.Params["region"])
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
