package worker

import "sync"

// handlers keeps Concurrency handler goroutines running messages. A
// handler that waits for another's work (a read of the same resource in
// flight, a lease held elsewhere) parks: it stops counting, and if fewer
// than Concurrency are left running, another handler starts, so a storm
// about one resource does not hold up the events about the others. When
// the waiting handler resumes, it finishes its message; handlers beyond
// Concurrency then exit between messages. Handlers are long-lived
// goroutines, started only when one parks and none is left to take over.
type handlers struct {
	concurrency int
	// maxParked bounds the handlers replaced while they wait: past it a
	// waiting handler keeps its slot. Every message a handler holds is a
	// delivery that a crash of this process turns into a spent attempt, so
	// the messages held beyond Concurrency stay few (storms about one
	// resource are answered with a handful of waiters per read).
	maxParked int
	spawn     func() // starts one handler goroutine

	mu            sync.Mutex
	alive, parked int
}

// start starts the first Concurrency handlers.
func (h *handlers) start() {
	h.mu.Lock()
	h.alive += h.concurrency
	h.mu.Unlock()
	for range h.concurrency {
		h.spawn()
	}
}

// park is called by a handler that starts waiting; it returns the
// function to call when the wait ends.
func (h *handlers) park() (unpark func()) {
	h.mu.Lock()
	h.parked++
	more := h.alive-h.parked < h.concurrency && h.parked <= h.maxParked
	if more {
		h.alive++
	}
	h.mu.Unlock()
	if more {
		h.spawn()
	}
	return func() {
		h.mu.Lock()
		h.parked--
		h.mu.Unlock()
	}
}

// surplus is asked by a handler between messages: true when more than
// Concurrency handlers run, and then this one counts itself out and exits.
func (h *handlers) surplus() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.alive-h.parked > h.concurrency {
		h.alive--
		return true
	}
	return false
}
