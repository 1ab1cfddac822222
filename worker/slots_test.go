package worker

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/guard"
)

// fakeGuard refuses with refusal, or hands out slots that count how they
// end.
type fakeGuard struct {
	refusal             *guard.Refusal
	confirmed, released int
}

func (f *fakeGuard) Watch(context.Context) {}

func (f *fakeGuard) OpenCircuits() int { return 0 }

func (f *fakeGuard) Take(context.Context, *rules.Rule, time.Time) (guard.Slots, *guard.Refusal) {
	if f.refusal != nil {
		return nil, f.refusal
	}
	return fakeSlots{f}, nil
}

type fakeSlots struct{ f *fakeGuard }

func (s fakeSlots) Confirm(time.Time) { s.f.confirmed++ }
func (s fakeSlots) Release()          { s.f.released++ }

// TestSlotsMiddleware: the slots middleware turns each refusal into a
// retryable error with the worker's reason and delay, records a circuit
// opened by this event once, and confirms the slots after a write or
// hands them back.
func TestSlotsMiddleware(t *testing.T) {
	t.Parallel()
	const retryBase, cooldown = 7 * time.Second, 30 * time.Minute
	bucketErr := errors.New("limits bucket gone")
	tests := []struct {
		name      string
		refusal   *guard.Refusal
		wrote     bool
		reason    action.Reason
		after     time.Duration
		err       error
		recorded  []audit.Decision
		confirmed int
		released  int
	}{
		{name: "circuit open", refusal: &guard.Refusal{Kind: guard.CircuitOpen, Rule: "r", Wait: 3 * time.Minute, Msg: "open"},
			reason: audit.ReasonCircuitOpen, after: 3 * time.Minute},
		{name: "tripped", refusal: &guard.Refusal{Kind: guard.CircuitOpen, Rule: guard.GlobalCircuit, Wait: cooldown, Tripped: true, Msg: "tripped"},
			reason: audit.ReasonCircuitOpen, after: cooldown,
			recorded: []audit.Decision{{Event: audit.Event{EventID: "e-1", Attempt: 2}, Final: true, Result: audit.Result{Rule: guard.GlobalCircuit,
				Outcome: audit.CircuitOpen, Detail: "write limit exceeded: rule _global paused until resumed or 30m0s pass"}}}},
		{name: "busy", refusal: &guard.Refusal{Kind: guard.Busy, Rule: "r", Msg: "busy"},
			reason: audit.ReasonBusy, after: retryBase},
		{name: "unavailable", refusal: &guard.Refusal{Kind: guard.Unavailable, Rule: "r", Err: bucketErr, Msg: "unavailable"},
			reason: action.ReasonUnavailable, after: retryBase, err: bucketErr},
		{name: "wrote", wrote: true, confirmed: 1},
		{name: "did not write", released: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fg := &fakeGuard{refusal: tc.refusal}
			mem := audit.NewMemory()
			w := &Worker{cfg: Config{RetryBase: retryBase, CircuitCooldown: cooldown}, guard: fg, rec: mem, log: zap.NewNop(),
				metrics: NewMetrics(prometheus.NewRegistry())}
			called := false
			next := func(context.Context, *job) (ran, *action.Error) {
				called = true
				return ran{wrote: tc.wrote}, nil
			}
			j := &job{mt: rules.Match{Rule: &rules.Rule{Name: "r", Action: "huawei.kms.enable_key_rotation"}},
				base: audit.Decision{Event: audit.Event{EventID: "e-1", Attempt: 2}, Result: audit.Result{Rule: "r", Action: "huawei.kms.enable_key_rotation"}}}
			_, ferr := w.slots(next)(context.Background(), j)
			if tc.refusal == nil {
				if ferr != nil || !called {
					t.Fatalf("error %v, ran %t: want the action run", ferr, called)
				}
			} else {
				if called {
					t.Error("the action ran despite the refusal")
				}
				if ferr == nil || ferr.Class != action.Retryable || ferr.Reason != tc.reason || ferr.RetryAfter != tc.after ||
					ferr.Msg != tc.refusal.Msg || ferr.Err != tc.err {
					t.Errorf("error %+v, want retryable %s after %s (%q, err %v)", ferr, tc.reason, tc.after, tc.refusal.Msg, tc.err)
				}
			}
			if fg.confirmed != tc.confirmed || fg.released != tc.released {
				t.Errorf("confirmed %d released %d, want %d and %d", fg.confirmed, fg.released, tc.confirmed, tc.released)
			}
			ds := mem.Decisions()
			if len(ds) != len(tc.recorded) {
				t.Fatalf("recorded %+v, want %+v", ds, tc.recorded)
			}
			for i, want := range tc.recorded {
				if got := ds[i]; got.EventID != want.EventID || got.Attempt != want.Attempt || got.Rule != want.Rule || got.Action != "" ||
					got.Outcome != want.Outcome || !got.Final || got.Detail != want.Detail {
					t.Errorf("recorded %+v, want %+v", got, want)
				}
			}
			if tc.recorded != nil && w.Counts()[audit.CircuitOpen] != 1 {
				t.Errorf("counts %v: the circuit_open decision was not logged", w.Counts())
			}
		})
	}
}
