package audit

import (
	"context"
	"sync"
	"time"

	"github.com/remediator/remediator/events"
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
	Released         Outcome = "released"          // handed back at shutdown
	Superseded       Outcome = "superseded"        // left to the delivery that took the event's lease over
	CircuitOpen      Outcome = "circuit_open"      // a rule's write limit opened its circuit (not an event's outcome)
	AwaitingApproval Outcome = "awaiting_approval" // planned and stored for people to approve (README, Approvals)
	Denied           Outcome = "denied"            // an approver denied the planned action
	ApprovalExpired  Outcome = "approval_expired"  // nobody approved the planned action within its TTL
)

// The worker's own reasons. An action's failures carry a provider reason
// (action.Reason*: throttled, not_found, ...); these are the worker's,
// given by the steps around the action. Both travel in action.Error, the
// one failure type of the pipeline, and both are in Reasons.
const (
	ReasonInvalidEvent  action.Reason = "invalid_event"  // the event could not be decoded or normalised
	ReasonTooLarge      action.Reason = "too_large"      // the event is over the size limit
	ReasonRuleError     action.Reason = "rule_error"     // the rule's params or action failed at run time
	ReasonExhausted     action.Reason = "exhausted"      // retryable failures used every attempt
	ReasonCircuitOpen   action.Reason = "circuit_open"   // the rule's (or the global) circuit is open
	ReasonScope         action.Reason = "scope"          // outside the rule's scope or policy
	ReasonExempt        action.Reason = "exempt"         // the resource is exempt from the rule
	ReasonBusy          action.Reason = "busy"           // another replica is working on the event or resource
	ReasonMaxDeliveries action.Reason = "max_deliveries" // delivered MaxDeliver times without being settled (a crash loop)
	ReasonUntrusted     action.Reason = "untrusted"      // the event's source or account is not on the trust allowlist
	ReasonCoalesced     action.Reason = "coalesced"      // answered by a read that began after the event was stored
	ReasonLeaseLost     action.Reason = "lease_lost"     // the lease was taken over, or could not be proved, before a write or a record
)

// Reasons lists every reason, the provider's and the worker's: the closed
// set of the reason label and of the dead-letter header.
var Reasons = append(action.Reasons(), ReasonInvalidEvent, ReasonTooLarge, ReasonRuleError, ReasonExhausted,
	ReasonCircuitOpen, ReasonScope, ReasonExempt, ReasonBusy, ReasonMaxDeliveries, ReasonUntrusted,
	ReasonCoalesced, ReasonLeaseLost)

// Known returns r when it is in Reasons, and provider_error otherwise: a
// label never takes a value outside the set.
func Known(r action.Reason) action.Reason {
	for _, k := range Reasons {
		if k == r {
			return r
		}
	}
	if r == "" {
		return ""
	}
	return action.ReasonProviderError
}

// Decision is one outcome for one event and rule: the event's reference
// and the rule's result. Rule and Action are empty when no rule applies or
// the event could not be read.
type Decision struct {
	Event
	Result
	// Final is true when the message has been settled for good: acked or
	// dead-lettered. Retrying and released decisions are not final.
	Final bool
}

// Event is the reference to the event a decision is about: what the
// intake stream and the event's own attributes say, the same for every
// rule.
type Event struct {
	EventID     string
	EventSource string
	EventType   string
	Subject     string
	Sequence    uint64
	Attempt     int
	Arrived     time.Time       // when the event entered the intake stream
	Finding     *events.Finding // the normalised finding, when the event had a known form
}

// Result is what one rule made of the event.
type Result struct {
	Rule     string
	Action   string
	Params   map[string]string // the action's parameters, when computed
	Resource string            // the value of the action's resource parameter
	Outcome  Outcome
	Reason   action.Reason // from Reasons
	Code     string
	Error    string
	Detail   string // human-readable why, for skips
	Before   string
	After    string
	Duration time.Duration
	// ApprovalID names the approval the decision is about, if any; Approval
	// says who approved or denied it.
	ApprovalID string
	Approval   *Approval
}

// Approval is who decided an approval, for its execution's or denial's
// record.
type Approval struct {
	Approvers []string `json:"approvers,omitempty"`
	DeniedBy  string   `json:"denied_by,omitempty"`
	Comments  []string `json:"comments,omitempty"`
}

// Recorder stores decisions. The worker records a message's decisions
// before it acks the message; a Record error makes the worker retry the
// message instead of acking it.
type Recorder interface {
	Record(ctx context.Context, d Decision) error
}

// Pending is a record on its way: it returns nil once the record is
// durable, and the error otherwise (or when ctx ends first).
type Pending func(ctx context.Context) error

// Starter is a Recorder that can start a record without waiting for it,
// so that a message's records and the next message's work overlap; the
// worker waits for every Pending before it acks the message.
type Starter interface {
	Recorder
	Start(ctx context.Context, d Decision) (Pending, error)
}

// Start starts recording d with rec: without waiting when rec is a
// Starter, and completely otherwise (the Pending then has nothing left
// to wait for).
func Start(ctx context.Context, rec Recorder, d Decision) (Pending, error) {
	if s, ok := rec.(Starter); ok {
		return s.Start(ctx, d)
	}
	if err := rec.Record(ctx, d); err != nil {
		return nil, err
	}
	return done, nil
}

func done(context.Context) error { return nil }

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

// Tee records each decision with every recorder in turn and stops at the
// first error. It is a Starter: the recorders that are Starters start
// theirs, and the others record when those are durable.
func Tee(recs ...Recorder) Recorder { return tee(recs) }

type tee []Recorder

func (t tee) Record(ctx context.Context, d Decision) error {
	for _, r := range t {
		if err := r.Record(ctx, d); err != nil {
			return err
		}
	}
	return nil
}

// Start starts the Starters' records; the others record once those are
// durable, so that none of them holds a record the durable ones lack.
func (t tee) Start(ctx context.Context, d Decision) (Pending, error) {
	var waits []Pending
	var later []Recorder
	for _, r := range t {
		s, ok := r.(Starter)
		if !ok {
			later = append(later, r)
			continue
		}
		p, err := s.Start(ctx, d)
		if err != nil {
			return nil, err
		}
		waits = append(waits, p)
	}
	return func(ctx context.Context) error {
		for _, p := range waits {
			if err := p(ctx); err != nil {
				return err
			}
		}
		for _, r := range later {
			if err := r.Record(ctx, d); err != nil {
				return err
			}
		}
		return nil
	}, nil
}
