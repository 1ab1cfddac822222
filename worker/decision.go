package worker

import (
	"context"

	"github.com/remediator/remediator/events"
	"sync"
	"time"

	"github.com/remediator/remediator/worker/action"
)

// Outcome is what became of an event for one rule.
type Outcome string

// Outcomes.
const (
	Remediated       Outcome = "remediated"
	AlreadyCompliant Outcome = "already_compliant"
	Planned          Outcome = "planned"
	NoMatch          Outcome = "no_match"
	OutOfScope       Outcome = "out_of_scope"
	Untrusted        Outcome = "untrusted"
	Exempt           Outcome = "exempt"
	DeadLettered     Outcome = "dead_lettered"
	Retrying         Outcome = "retrying"
	Released         Outcome = "released"   // handed back at shutdown
	Superseded       Outcome = "superseded" // left to the delivery that took the event's lease over
)

// Decision is one outcome for one event and rule. Rule and Action are
// empty when no rule applies or the event could not be read.
type Decision struct {
	EventID     string
	EventSource string
	EventType   string
	Subject     string
	Sequence    uint64
	Rule        string
	Action      string
	Params      map[string]string // the action's parameters, when computed
	Resource    string            // the value of the action's resource parameter
	Finding     *events.Finding   // the normalised finding, when the event had a known form
	Outcome     Outcome
	Reason      action.Reason
	Code        string
	Error       string
	Detail      string // human-readable why, for skips
	Before      string
	After       string
	Attempt     int
	Duration    time.Duration
	Arrived     time.Time // when the event entered the intake stream
	// Final is true when the message has been settled for good: acked or
	// dead-lettered. Retrying and released decisions are not final.
	Final bool
}

// Recorder stores decisions. The worker records a message's decisions
// before it acks the message; a Record error makes the worker retry the
// message instead of acking it.
type Recorder interface {
	Record(ctx context.Context, d Decision) error
}

// RecorderFunc adapts a function to Recorder.
type RecorderFunc func(ctx context.Context, d Decision) error

// Record implements Recorder.
func (f RecorderFunc) Record(ctx context.Context, d Decision) error { return f(ctx, d) }

// Memory is a Recorder that keeps every decision in memory, for the demo
// and tests.
type Memory struct {
	mu        sync.Mutex
	decisions []Decision
	notify    chan struct{}
}

// NewMemory returns an empty Memory recorder.
func NewMemory() *Memory { return &Memory{notify: make(chan struct{}, 1)} }

// Record implements Recorder.
func (m *Memory) Record(_ context.Context, d Decision) error {
	m.mu.Lock()
	m.decisions = append(m.decisions, d)
	m.mu.Unlock()
	select {
	case m.notify <- struct{}{}:
	default:
	}
	return nil
}

// Decisions returns a copy of everything recorded so far.
func (m *Memory) Decisions() []Decision {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]Decision(nil), m.decisions...)
}

// Final returns the final decisions, keyed by event id.
func (m *Memory) Final() map[string][]Decision {
	out := map[string][]Decision{}
	for _, d := range m.Decisions() {
		if d.Final && d.Outcome != CircuitOpen { // a circuit opening does not settle the event
			out[d.EventID] = append(out[d.EventID], d)
		}
	}
	return out
}

// Wait blocks until cond holds for the recorded decisions or ctx ends.
func (m *Memory) Wait(ctx context.Context, cond func([]Decision) bool) error {
	for {
		if cond(m.Decisions()) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.notify:
		case <-time.After(50 * time.Millisecond):
		}
	}
}
