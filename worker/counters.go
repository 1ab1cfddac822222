package worker

import (
	"sync"

	"github.com/remediator/remediator/worker/audit"
)

// counters counts decisions by outcome, so that every event, including
// those no rule matches, is counted.
type counters struct {
	mu sync.Mutex
	n  map[audit.Outcome]int64
}

func (c *counters) add(o audit.Outcome) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[audit.Outcome]int64{}
	}
	c.n[o]++
	c.mu.Unlock()
}

// Counts returns how many decisions of each outcome this worker has made.
func (w *Worker) Counts() map[audit.Outcome]int64 {
	w.counts.mu.Lock()
	defer w.counts.mu.Unlock()
	out := make(map[audit.Outcome]int64, len(w.counts.n))
	for k, v := range w.counts.n {
		out[k] = v
	}
	return out
}
