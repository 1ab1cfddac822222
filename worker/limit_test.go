package worker

import (
	"testing"
	"time"

	"github.com/remediator/remediator/rules"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	r := &rules.Rule{Name: "r", Limit: &rules.Limit{Writes: 2, Per: time.Minute}}
	var l limiter
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	take := func(at time.Time) (time.Duration, bool) { return l.take(r, at) }
	if w, busy := take(t0); w != 0 || busy {
		t.Fatal("the first slot must be free")
	}
	if w, busy := take(t0.Add(time.Second)); w != 0 || busy {
		t.Fatal("the second slot must be free")
	}
	if w, busy := take(t0.Add(2 * time.Second)); w != 0 || !busy {
		t.Errorf("both slots in flight, no write yet: got wait %s busy %t, want busy (no circuit)", w, busy)
	}
	l.release(r) // the second event found the resource compliant
	l.confirm(r, t0)
	if w, busy := take(t0.Add(3 * time.Second)); w != 0 || busy {
		t.Errorf("one write and a free slot: wait %s busy %t", w, busy)
	}
	l.confirm(r, t0.Add(3*time.Second))
	if w, busy := take(t0.Add(4 * time.Second)); w != 56*time.Second || busy {
		t.Errorf("two writes in the window: wait %s busy %t, want 56s until the first leaves it", w, busy)
	}
	if w, busy := take(t0.Add(61 * time.Second)); w != 0 || busy {
		t.Error("the window must slide")
	}
	if w, busy := l.take(&rules.Rule{Name: "free"}, t0); w != 0 || busy {
		t.Error("a rule without limits is never limited")
	}
}
