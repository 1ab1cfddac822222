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
	if l.take(r, t0) != 0 || l.take(r, t0.Add(time.Second)) != 0 {
		t.Fatal("the first two writes must be allowed")
	}
	if w := l.take(r, t0.Add(2*time.Second)); w != 58*time.Second {
		t.Errorf("third write waits %s, want 58s", w)
	}
	l.release(r, t0.Add(time.Second)) // that write did not happen
	if l.take(r, t0.Add(3*time.Second)) != 0 {
		t.Error("a released slot must be reusable")
	}
	if l.take(r, t0.Add(61*time.Second)) != 0 {
		t.Error("the window must slide")
	}
	if l.take(&rules.Rule{Name: "free"}, t0) != 0 {
		t.Error("a rule without limits is never limited")
	}
}
