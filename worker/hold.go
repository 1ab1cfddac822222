package worker

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/coalesce"
	"github.com/remediator/remediator/worker/ledger"
)

// held is the ledger leases one rule's action runs under: the event's
// and, when the action names a resource, the resource's. They are renewed
// while the action runs, and proved again (fence) right before each write
// and before the outcome is recorded: a worker that stalled past its lease
// may have lost them to another replica, which then owns the work.
type held struct {
	w      *Worker
	hasRes bool
	// mu serialises the renewer's and the fence's compare-and-sets, which
	// both advance the revisions.
	mu      sync.Mutex
	ev, res ledger.Lease
	until   time.Time     // both leases last at least until then
	lost    *action.Error // set once a lease is known to be someone else's
	stop    func()
}

// hold claims the leases. It returns nil and a ran when the work was
// already done, or when another replica's read answered the event while it
// waited (see share.go), and an error when the ledger cannot be reached. A lease
// held by another delivery (another replica, or a crashed one's that has
// not expired) is waited for here, parked, until it is released or
// expires, for at most a lease's length: waiting in the process spends no
// delivery and answers as soon as the holder is done. Past that the event
// is delayed as busy (a wait, not an attempt).
func (w *Worker) hold(ctx context.Context, mt rules.Match, env *events.Envelope, in coalesce.Interest) (*held, ran, *action.Error) {
	evKey := ledger.EventKey(env.Event.Source(), env.Event.ID(), mt.Rule.Name)
	resKey := ""
	if rp := mt.Rule.ResourceParam(); rp != "" && mt.Params[rp] != "" {
		resKey = ledger.ResourceKey(mt.Rule.Action, mt.Params[rp])
	}
	giveUp := w.ledger.Now().Add(w.ledger.TTL())
	poll := leasePollMin
	for {
		h, out, ferr := w.claimBoth(ctx, evKey, resKey)
		if ferr == nil || ferr.Reason != audit.ReasonBusy || !w.ledger.Now().Before(giveUp) {
			return h, out, ferr
		}
		// The holder may be another replica reading the resource: its read
		// may answer this event.
		if ob, ok := w.obs.SharedCover(ctx, w.ledger, in); ok {
			out := coalesced(ob)
			out.shared = &ob
			return nil, out, nil
		}
		// Ask again when the holder may be done, and at the latest when its
		// lease ends.
		wait := min(poll, ferr.RetryAfter, giveUp.Sub(w.ledger.Now()))
		what := "" // counted once per event, not per poll
		if poll == leasePollMin {
			what = "lease"
		}
		poll = min(2*poll, leasePollMax)
		if err := w.obs.Wait(ctx, timer(wait), what); err != nil {
			return nil, ran{}, action.Classify(err)
		}
	}
}

// While a lease is held elsewhere it is asked for again after
// leasePollMin, then twice as long each time up to leasePollMax, and never
// later than the lease's end.
const (
	leasePollMin = 10 * time.Millisecond
	leasePollMax = 50 * time.Millisecond
)

// timer returns a channel closed after d.
func timer(d time.Duration) <-chan struct{} {
	ch := make(chan struct{})
	time.AfterFunc(max(d, 0), func() { close(ch) })
	return ch
}

// claimBoth claims the event's and the resource's leases at once (one
// round trip instead of two); if either is refused, neither is kept.
func (w *Worker) claimBoth(ctx context.Context, evKey, resKey string) (*held, ran, *action.Error) {
	until := w.ledger.Now().Add(w.ledger.TTL())
	var res ledger.Lease
	var resErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resKey != "" {
			res, resErr = w.ledger.Claim(ctx, resKey)
		}
	}()
	ev, err := w.ledger.Claim(ctx, evKey)
	<-done
	if err != nil || resErr != nil {
		rctx := context.WithoutCancel(ctx) // a lease claimed must be given back, even at shutdown
		if err == nil {
			w.ledger.Release(rctx, ev)
		}
		if resErr == nil && resKey != "" {
			w.ledger.Release(rctx, res)
		}
		if err != nil {
			return nil, doneBefore(err), ledgerError(err, w.ledger.Now())
		}
		return nil, ran{}, ledgerError(resErr, w.ledger.Now())
	}
	h := &held{w: w, ev: ev, res: res, hasRes: resKey != "", until: until}
	h.stop = h.renewEvery(ctx, w.ledger.TTL()/3)
	return h, ran{}, nil
}

// doneBefore turns a done record into the outcome it recorded.
func doneBefore(err error) ran {
	var de *ledger.DoneError
	if errors.As(err, &de) {
		return ran{outcome: de.Outcome, detail: "done by an earlier delivery (ledger): no cloud call"}
	}
	return ran{}
}

func ledgerError(err error, now time.Time) *action.Error {
	var de *ledger.DoneError
	var be *ledger.BusyError
	switch {
	case errors.As(err, &de):
		return nil
	case errors.As(err, &be):
		e := &action.Error{Class: action.Retryable, Reason: audit.ReasonBusy, Msg: be.Error(),
			RetryAfter: max(be.Until.Sub(now), 10*time.Millisecond)}
		e.WaitFull = be.Stale
		return e
	}
	if errors.Is(err, context.Canceled) {
		return action.Classify(err) // shutdown: the delivery is handed back, not failed
	}
	return &action.Error{Class: action.Retryable, Reason: action.ReasonUnavailable, Msg: "ledger: " + err.Error(), Err: err}
}

// unproved is the error of a renewal that failed for a reason other than
// someone else's write (a timeout, a lost connection, shutdown): the lease
// may still be ours, so the delivery is retried, not abandoned.
func unproved(what string, err error) *action.Error {
	e := *action.Classify(err)
	if e.Class != action.Retryable {
		e.Class, e.Reason = action.Retryable, action.ReasonUnavailable
	}
	e.Msg, e.Err = what+" (no write was sent): "+err.Error(), err
	return &e
}

// superseded is the error of a delivery whose event lease is gone.
func superseded(msg string, err error) *action.Error {
	return &action.Error{Class: action.Superseded, Reason: audit.ReasonLeaseLost, Msg: msg, Err: err}
}

// renew extends both leases with compare-and-set on the revisions held,
// so it succeeds only if nobody else wrote them since. Its deadline is the
// leases' own end: past it they may be taken over anyway.
func (h *held) renew(ctx context.Context) *action.Error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost != nil {
		return h.lost
	}
	l := h.w.ledger
	ctx, cancel := context.WithDeadline(ctx, h.until)
	defer cancel()
	until := l.Now().Add(l.TTL())
	var resErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		if h.hasRes {
			resErr = l.Renew(ctx, &h.res)
		}
	}()
	evErr := l.Renew(ctx, &h.ev)
	<-done
	switch {
	case errors.Is(evErr, jetstream.ErrKeyRevisionMismatch):
		h.lost = superseded("the event's lease was taken over by another delivery", evErr)
		return h.lost
	case evErr != nil:
		// Unknown: the lease may still be ours, but nothing proves it. No
		// write is sent; the attempt is retried (finish releases the lease
		// if it is still ours, and finds out if it is not).
		return unproved("the event's lease could not be renewed", evErr)
	case errors.Is(resErr, jetstream.ErrKeyRevisionMismatch):
		h.lost = &action.Error{Class: action.Retryable, Reason: audit.ReasonBusy, RetryAfter: h.w.cfg.RetryBase,
			Msg: "the resource's lease was taken over by another event's work", Err: resErr}
		return h.lost
	case resErr != nil:
		return unproved("the resource's lease could not be renewed", resErr)
	}
	h.until = until
	return nil
}

// fence proves the leases right before a write (action.Fence): it renews
// them and checks that the time they now have left covers the write's own
// timeout with a margin. Otherwise the write is not sent.
func (h *held) fence(ctx context.Context) error {
	if err := h.renew(ctx); err != nil {
		return err
	}
	h.mu.Lock()
	left := h.until.Sub(h.w.ledger.Now())
	h.mu.Unlock()
	if need := h.w.cfg.CloudTimeout + h.w.cfg.fenceMargin(); left < need {
		return &action.Error{Class: action.Retryable, Reason: action.ReasonUnavailable,
			Msg: "the ledger answered so late that the lease has " + left.Round(time.Millisecond).String() +
				" left, and a write needs " + need.String() + ": not sent"}
	}
	return nil
}

func (h *held) renewEvery(ctx context.Context, every time.Duration) func() {
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				// A failure is not fatal here: the fence before a write, and
				// finish before the record, prove the leases again.
				if err := h.renew(ctx); err != nil {
					h.w.log.Warn("lease_renewal_failed", zap.String("key", h.ev.Key()), zap.String("reason", string(err.Reason)), zap.Error(err))
				}
			}
		}
	}()
	return func() { close(stop); <-done }
}

// finish records the done record on success, or releases the event lease
// so the retry can claim it; the resource lease is always released. Both
// are compare-and-sets on the revision held: it returns a Superseded error
// when the event lease turned out to be someone else's, so the outcome of
// this delivery is not recorded (the delivery that owns it records its own).
func (h *held) finish(ctx context.Context, out ran, fail *action.Error) *action.Error {
	h.stop()
	ctx = context.WithoutCancel(ctx)
	done := make(chan struct{})
	go func() { // the resource release runs beside the event record
		defer close(done)
		if h.hasRes {
			h.w.ledger.Release(ctx, h.res)
		}
	}()
	defer func() { <-done }()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.lost != nil && h.lost.Class == action.Superseded {
		if fail == nil && out.outcome == audit.Remediated {
			h.unrecorded(out, h.lost)
		}
		return h.lost
	}
	if fail != nil || (out.outcome != audit.Remediated && out.outcome != audit.AlreadyCompliant) {
		if err := h.w.ledger.ReleaseOwned(ctx, h.ev); errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			return superseded("the event's lease was taken over by another delivery", err)
		}
		return nil
	}
	var err error
	for range 2 { // one retry for a transient failure; a mismatch is final
		if err = h.w.ledger.Done(ctx, h.ev, out.outcome); err == nil || errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
			break
		}
	}
	if err != nil {
		if out.outcome == audit.Remediated {
			h.unrecorded(out, err)
		}
		return superseded("the done record could not replace the event's lease", err)
	}
	return nil
}

// unrecorded logs a write whose outcome this delivery cannot record: the
// delivery that took the lease over finds the resource compliant.
func (h *held) unrecorded(out ran, err error) {
	h.w.log.Warn("remediated_unrecorded", zap.String("key", h.ev.Key()), zap.String("state_before", out.res.Before),
		zap.String("state_after", out.res.After), zap.Error(err))
}
