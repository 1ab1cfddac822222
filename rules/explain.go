package rules

import (
	"fmt"

	"github.com/remediator/remediator/events"
)

// Miss is an enabled rule that does not apply to an event, with the first
// of its checks the event fails.
type Miss struct {
	Rule   *Rule
	Reason MissReason
	Detail string
}

// MissReason names the check a rule's match failed.
type MissReason string

// The checks, in the order Evaluate makes them.
const (
	MissType       MissReason = "type"       // match.type
	MissSource     MissReason = "source"     // match.source
	MissAttributes MissReason = "attributes" // match.attributes
	MissWhen       MissReason = "when"       // the condition is false
)

// Misses returns the enabled rules Evaluate does not return for the event,
// in load order, each with why. It explains a decision (`remediator rules
// eval`); the worker never calls it. It makes Evaluate's checks in
// Evaluate's order, so a rule is either in Evaluate's matches or here.
func (s *Set) Misses(env *events.Envelope) []Miss {
	typ, source := env.Event.Type(), env.Event.Source()
	vars := &activation{env: env, policy: s.policy}
	var out []Miss
	for _, r := range s.rules {
		miss := func(why MissReason, format string, args ...any) {
			out = append(out, Miss{Rule: r, Reason: why, Detail: fmt.Sprintf(format, args...)})
		}
		switch {
		case !r.typeGlob.match(typ):
			miss(MissType, "event type %s, the rule wants %s", typ, r.Type)
		case !r.sourceGlob.match(source):
			miss(MissSource, "event source %s, the rule wants %s", source, r.Source)
		case !r.attrsMatch(vars):
			miss(MissAttributes, "%s", r.attrMiss(vars))
		default:
			if _, ok := r.evaluate(vars); !ok {
				miss(MissWhen, "the condition (when, %s:%d) is false", r.File, r.Line)
			}
		}
	}
	return out
}

// attrMiss says which attribute fails the rule's match.attributes.
func (r *Rule) attrMiss(vars *activation) string {
	attrs := vars.attributes()
	for _, a := range r.attrs {
		v, ok := attrs[a.name]
		if !ok {
			return fmt.Sprintf("the event has no attribute %s, the rule wants %s", a.name, a.glob.pattern)
		}
		if s := fmt.Sprint(v); !a.glob.match(s) {
			return fmt.Sprintf("attribute %s is %s, the rule wants %s", a.name, s, a.glob.pattern)
		}
	}
	return "match.attributes"
}
