package worker

import (
	"sync"
	"time"

	"github.com/remediator/remediator/rules"
)

// limiter enforces each rule's write limit (rules' limits: writes per
// window) in this process, over a sliding window. An event takes a slot
// before it reads (so concurrent events cannot overshoot the limit); the
// slot becomes a write when the event wrote (confirm), or is handed back
// when it did not (release). Only writes count against the limit: slots
// held by events still in flight make others wait, not trip the circuit.
type limiter struct {
	mu       sync.Mutex
	writes   map[string][]time.Time
	inFlight map[string]int
}

// take reserves a slot for the rule and returns (0, false). When the
// rule's writes fill its window it returns how long until one leaves it;
// when writes and slots in flight fill it, busy.
func (l *limiter) take(r *rules.Rule, now time.Time) (wait time.Duration, busy bool) {
	if r.Limit == nil {
		return 0, false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := l.trim(r, now)
	if len(ts) >= r.Limit.Writes {
		return ts[0].Add(r.Limit.Per).Sub(now), false
	}
	if l.inFlight == nil {
		l.inFlight = map[string]int{}
	}
	if len(ts)+l.inFlight[r.Name] >= r.Limit.Writes {
		return 0, true
	}
	l.inFlight[r.Name]++
	return 0, false
}

// confirm turns the slot taken at t into a write.
func (l *limiter) confirm(r *rules.Rule, t time.Time) {
	if r.Limit == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.land(r.Name)
	if l.writes == nil {
		l.writes = map[string][]time.Time{}
	}
	l.writes[r.Name] = append(l.writes[r.Name], t)
}

// release hands back a slot that was not used for a write.
func (l *limiter) release(r *rules.Rule) {
	if r.Limit == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.land(r.Name)
}

// land ends a slot in flight; called with mu held.
func (l *limiter) land(rule string) {
	if l.inFlight[rule] > 0 {
		l.inFlight[rule]--
	}
}

// trim drops writes older than the window; called with mu held.
func (l *limiter) trim(r *rules.Rule, now time.Time) []time.Time {
	ts := l.writes[r.Name]
	i := 0
	for i < len(ts) && now.Sub(ts[i]) >= r.Limit.Per {
		i++
	}
	ts = ts[i:]
	if l.writes != nil {
		l.writes[r.Name] = ts
	}
	return ts
}

// reset forgets a rule's writes (after an operator resumed its circuit).
func (l *limiter) reset(rule string) {
	l.mu.Lock()
	delete(l.writes, rule)
	l.mu.Unlock()
}
