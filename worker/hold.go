package worker

import (
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
)

// held is the ledger leases one rule's action runs under: the event's
// and, when the action names a resource, the resource's. They are renewed
// while the action runs.
type held struct {
	w         *Worker
	ev, res   lease
	hasRes    bool
	stopRenew func()
}

// hold claims the leases. It returns nil and a ran when the work was
// already done, and an error when another replica holds them or the ledger
// cannot be reached (both retryable).
func (w *Worker) hold(ctx context.Context, mt rules.Match, env *events.Envelope) (*held, ran, *action.Error) {
	evKey := ledgerKey("e", env.Event.Source(), env.Event.ID(), mt.Rule.Name)
	resKey := ""
	if rp := mt.Rule.ResourceParam(); rp != "" && mt.Params[rp] != "" {
		resKey = ledgerKey("r", mt.Rule.Action, mt.Params[rp])
	}
	// Both leases are claimed at once: one round trip instead of two.
	var res lease
	var resErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resKey != "" {
			res, resErr = w.ledger.claim(ctx, resKey)
		}
	}()
	ev, err := w.ledger.claim(ctx, evKey)
	<-done
	if err != nil || resErr != nil {
		if err == nil {
			w.ledger.release(ctx, ev)
		}
		if resErr == nil && resKey != "" {
			w.ledger.release(ctx, res)
		}
		if err != nil {
			return nil, doneBefore(err), ledgerError(err, w.ledger.now())
		}
		return nil, ran{}, ledgerError(resErr, w.ledger.now())
	}
	h := &held{w: w, ev: ev, res: res, hasRes: resKey != ""}
	h.stopRenew = h.renewEvery(ctx, w.ledger.ttl/3)
	return h, ran{}, nil
}

// doneBefore turns a done record into the outcome it recorded.
func doneBefore(err error) ran {
	var de *doneError
	if errors.As(err, &de) {
		return ran{outcome: de.outcome, detail: "done by an earlier delivery (ledger): no cloud call"}
	}
	return ran{}
}

func ledgerError(err error, now time.Time) *action.Error {
	var de *doneError
	var be *errBusy
	switch {
	case errors.As(err, &de):
		return nil
	case errors.As(err, &be):
		e := &action.Error{Class: action.Retryable, Reason: action.ReasonBusy, Msg: be.Error(),
			RetryAfter: max(be.until.Sub(now), 10*time.Millisecond)}
		e.WaitFull = be.stale
		return e
	}
	return &action.Error{Class: action.Retryable, Reason: action.ReasonUnavailable, Msg: "ledger: " + err.Error(), Err: err}
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
				if err := h.w.ledger.renew(ctx, &h.ev); err != nil {
					h.w.log.Warn("lease_lost", zap.String("key", h.ev.key), zap.Error(err))
				}
				if h.hasRes {
					_ = h.w.ledger.renew(ctx, &h.res)
				}
			}
		}
	}()
	return func() { close(stop); <-done }
}

// finish records the done record on success, or releases the event lease
// so the retry can claim it; the resource lease is always released.
func (h *held) finish(ctx context.Context, out ran, fail *action.Error) {
	h.stopRenew()
	ctx = context.WithoutCancel(ctx)
	done := make(chan struct{})
	go func() { // the resource release runs beside the event record
		defer close(done)
		if h.hasRes {
			h.w.ledger.release(ctx, h.res)
		}
	}()
	defer func() { <-done }()
	if fail != nil || (out.outcome != Remediated && out.outcome != AlreadyCompliant) {
		h.w.ledger.release(ctx, h.ev)
		return
	}
	if err := h.w.ledger.done(ctx, h.ev, out.outcome); err != nil {
		h.w.log.Warn("ledger_done_failed", zap.String("key", h.ev.key), zap.Error(err))
	}
}
