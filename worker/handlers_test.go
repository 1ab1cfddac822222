package worker

import "testing"

// TestHandlersReplaceParkedOnes: while handlers wait, others start so that
// Concurrency keep running; the extra ones leave once the waits end.
func TestHandlersReplaceParkedOnes(t *testing.T) {
	t.Parallel()
	spawned := 0
	h := &handlers{concurrency: 2, maxParked: 4, spawn: func() { spawned++ }}
	h.start()
	un1, un2 := h.park(), h.park()
	if spawned != 4 {
		t.Fatalf("%d handlers started, want 4 (2, and one for each parked)", spawned)
	}
	if h.surplus() {
		t.Error("a handler left while two were parked")
	}
	un1()
	un2()
	if !h.surplus() || !h.surplus() || h.surplus() {
		t.Error("want exactly two surplus handlers to leave after the waits ended")
	}
}

// TestHandlersBoundTheParked: past maxParked a waiting handler is not
// replaced, so the messages one process holds stay few.
func TestHandlersBoundTheParked(t *testing.T) {
	t.Parallel()
	spawned := 0
	h := &handlers{concurrency: 1, maxParked: 2, spawn: func() { spawned++ }}
	h.start()
	h.park()
	h.park()
	h.park() // the third waits in its own slot
	if spawned != 3 {
		t.Errorf("%d handlers started, want 3 (1, and one for each of the first 2 parked)", spawned)
	}
}
