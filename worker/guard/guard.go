package guard

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/remediator/remediator/rules"
)

// Config is what a guard enforces.
type Config struct {
	// SlotTTL is how long a slot outlives a crash of its holder (the ack
	// wait); a live holder renews it every SlotTTL/3.
	SlotTTL time.Duration
	// Cooldown is how long a circuit stays open unless an operator
	// resumes it first.
	Cooldown time.Duration
	// GlobalWrites caps the writes of all rules together per GlobalPer;
	// 0: no global limit.
	GlobalWrites int
	GlobalPer    time.Duration
}

// Guard checks the circuits and takes write slots for one process; the
// state it guards is shared by every replica through the two buckets.
type Guard struct {
	circuits *circuits
	limits   *limiter
	global   *rules.Rule // the global write limit, as a pseudo-rule; nil: none
	cooldown time.Duration
	log      *zap.Logger
}

// New returns a guard over the control bucket (the circuits) and the
// limits bucket (the write windows). Run Watch to see the circuits other
// replicas open and operators close.
func New(control, limits jetstream.KeyValue, cfg Config, log *zap.Logger) *Guard {
	if log == nil {
		log = zap.NewNop()
	}
	g := &Guard{limits: &limiter{}, cooldown: cfg.Cooldown, log: log}
	g.limits.init(limits, cfg.SlotTTL, log)
	g.circuits = &circuits{kv: control, open: map[string]circuitState{}, closed: func(rule string, rev uint64) {
		// An operator's resume starts a fresh window, for every replica.
		if err := g.limits.reset(rule, rev); err != nil {
			log.Error("limit_reset_failed", zap.String("rule", rule), zap.Error(err))
		}
	}}
	if cfg.GlobalWrites > 0 {
		g.global = &rules.Rule{Name: GlobalCircuit, Limit: &rules.Limit{Writes: cfg.GlobalWrites, Per: cfg.GlobalPer}}
	}
	return g
}

// Watch keeps this process's view of the circuits current until ctx ends.
func (g *Guard) Watch(ctx context.Context) { g.circuits.watch(ctx, g.log) }

// OpenCircuits counts the circuits open now, as this replica sees them.
func (g *Guard) OpenCircuits() int { return g.circuits.openCount(time.Now()) }

// Kind is why a guard refused a write.
type Kind string

const (
	// CircuitOpen: the rule's circuit, or the global one, is open (or this
	// call opened it: the limit is exceeded). Wait says for how long.
	CircuitOpen Kind = "circuit_open"
	// Busy: the window's free slots are held by events in flight.
	Busy Kind = "busy"
	// Unavailable: the shared window cannot be read or written; the guard
	// fails closed.
	Unavailable Kind = "unavailable"
)

// Refusal says why an event may not write now.
type Refusal struct {
	Kind Kind
	// Rule names the circuit or window that refused: the rule's name, or
	// GlobalCircuit when the global limit did.
	Rule string
	// Wait is how long the circuit stays open (CircuitOpen); 0 otherwise:
	// the wait is unknown.
	Wait time.Duration
	// Tripped is true when this call opened the circuit of Rule: the limit
	// was just exceeded. Of the replicas that see it exceeded, one trips.
	Tripped bool
	Msg     string
	Err     error // the bucket's error (Unavailable)
}

// Slots are the write slots an event holds while it runs (the rule's and
// the global limit's; none for a rule without limits). They are renewed
// until Confirm or Release, exactly one of which must be called.
type Slots interface {
	// Confirm counts the slots as writes made at at.
	Confirm(at time.Time)
	// Release hands back slots that were not used for a write.
	Release()
}

// Take checks the circuits and takes a slot in the rule's window and in
// the global one. It opens a circuit when a limit is exceeded. When the
// shared windows cannot be read it fails closed: a limited rule waits.
func (g *Guard) Take(ctx context.Context, r *rules.Rule, now time.Time) (Slots, *Refusal) {
	if wait := g.circuits.blocked(r.Name, now); wait > 0 {
		return nil, &Refusal{Kind: CircuitOpen, Rule: r.Name, Wait: wait,
			Msg: "the circuit of rule " + r.Name + " (or the global one) is open: waiting for `remediator control resume` or the cool-down"}
	}
	name := r.Name
	s, wait, busy, err := g.limits.take(r, now)
	var gs *slot
	if err == nil && wait == 0 && !busy && g.global != nil {
		if gs, wait, busy, err = g.limits.take(g.global, now); err != nil || wait > 0 || busy {
			name = GlobalCircuit
			g.limits.release(s)
		}
	}
	switch {
	case err != nil:
		return nil, &Refusal{Kind: Unavailable, Rule: name, Err: err,
			Msg: "the write window of rule " + name + " cannot be read: no write until it can"}
	case busy:
		return nil, &Refusal{Kind: Busy, Rule: name,
			Msg: "the write slots of rule " + name + " are held by events in flight"}
	case wait == 0:
		return held{l: g.limits, slots: []*slot{s, gs}}, nil
	}
	tripped := g.circuits.trip(ctx, name, "write limit exceeded", now, g.cooldown)
	return nil, &Refusal{Kind: CircuitOpen, Rule: name, Wait: min(wait, g.cooldown), Tripped: tripped,
		Msg: "rule " + name + " exceeded its write limit: its circuit is open"}
}

// held are the slots one Take returned; nil entries are limits the rule
// does not have.
type held struct {
	l     *limiter
	slots []*slot
}

func (h held) Confirm(at time.Time) {
	for _, s := range h.slots {
		h.l.confirm(s, at)
	}
}

func (h held) Release() {
	for _, s := range h.slots {
		h.l.release(s)
	}
}
