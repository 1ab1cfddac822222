package worker

import "sync"

// counters counts decisions by outcome, so that every event, including
// those no rule matches, is counted.
type counters struct {
	mu sync.Mutex
	n  map[Outcome]int64
}

func (c *counters) add(o Outcome) {
	c.mu.Lock()
	if c.n == nil {
		c.n = map[Outcome]int64{}
	}
	c.n[o]++
	c.mu.Unlock()
}

// Counts returns how many decisions of each outcome this worker has made.
func (w *Worker) Counts() map[Outcome]int64 {
	w.counts.mu.Lock()
	defer w.counts.mu.Unlock()
	out := make(map[Outcome]int64, len(w.counts.n))
	for k, v := range w.counts.n {
		out[k] = v
	}
	return out
}
