package worker

import (
	"sync"
	"time"

	"github.com/remediator/remediator/rules"
)

// limiter enforces each rule's write limit (rules' limits: writes per
// window) in this process, over a sliding window.
type limiter struct {
	mu     sync.Mutex
	writes map[string][]time.Time
}

// take reserves a write slot for the rule. It returns 0 when a slot was
// reserved, else how long until one frees up. A reservation that ends
// without a write is handed back with release, so concurrent events cannot
// overshoot the limit.
func (l *limiter) take(r *rules.Rule, now time.Time) time.Duration {
	if r.Limit == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := l.trim(r, now)
	if len(ts) >= r.Limit.Writes {
		return ts[0].Add(r.Limit.Per).Sub(now)
	}
	if l.writes == nil {
		l.writes = map[string][]time.Time{}
	}
	l.writes[r.Name] = append(ts, now)
	return 0
}

// release hands back the reservation taken at t.
func (l *limiter) release(r *rules.Rule, t time.Time) {
	if r.Limit == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	ts := l.writes[r.Name]
	for i := len(ts) - 1; i >= 0; i-- {
		if ts[i].Equal(t) {
			l.writes[r.Name] = append(ts[:i:i], ts[i+1:]...)
			return
		}
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
