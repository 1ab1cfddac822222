package worker_test

import (
	"fmt"
	"testing"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/audit"
)

const opRotationStatus = "kms.get-key-rotation-status"

// TestBacklogAboutOneKeyIsReadOnce: a backlog of events about one
// compliant key is answered by the few reads that began after the backlog
// was stored; an event stored after those reads is read again, and the
// drift it reports is corrected.
func TestBacklogAboutOneKeyIsReadOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.stop()
	const n = 60
	for i := range n {
		b.publish(ctsEvent(fmt.Sprintf("backlog-%d", i), keyOn), events.Structured)
	}
	b.start()
	ds := b.waitFinal(n)
	coalesced := 0
	for _, d := range ds {
		if d.Outcome != audit.AlreadyCompliant {
			t.Errorf("decision %+v, want already compliant", d)
		}
		if d.Reason == audit.ReasonCoalesced {
			coalesced++
		}
	}
	reads := b.reads(opRotationStatus)
	if reads > b.cfg.Concurrency || coalesced < n-b.cfg.Concurrency || reads+coalesced != n {
		t.Errorf("%d events: %d cloud reads and %d coalesced, want at most %d reads (one per worker goroutine) and the rest coalesced",
			n, reads, coalesced, b.cfg.Concurrency)
	}

	// The key drifts after those reads; the event about it is newer than
	// every read, so it is not coalesced.
	if !b.sim.SetRotation(project, keyOn, false) {
		t.Fatal("no such key")
	}
	b.publish(ctsEvent("after-drift", keyOn), events.Structured)
	ds = b.waitFinal(n + 1)
	last := ds[len(ds)-1]
	if last.EventID != "after-drift" || last.Outcome != audit.Remediated {
		t.Errorf("the event after the drift: %+v, want remediated", last)
	}
	if k, _ := b.sim.Key(project, keyOn); !k.Rotation {
		t.Error("rotation is still off")
	}
	b.assertDrained()
}

// TestCoalescingOff: with CoalesceFor 0 every event reads.
func TestCoalescingOff(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *worker.Config) { c.CoalesceFor, c.MaxDeliver = 0, 50 }) // the resource lease makes some wait
	b.stop()
	const n = 12
	for i := range n {
		b.publish(ctsEvent(fmt.Sprintf("off-%d", i), keyOn), events.Structured)
	}
	b.start()
	for _, d := range b.waitFinal(n) {
		if d.Reason == audit.ReasonCoalesced {
			t.Errorf("coalesced with coalescing off: %+v", d)
		}
	}
	if reads := b.reads(opRotationStatus); reads != n {
		t.Errorf("%d reads for %d events, want one each", reads, n)
	}
}

// reads counts completed calls to op.
func (b *bundle) reads(op string) int {
	n := 0
	for _, c := range b.sim.Calls() {
		if c.Op == op && c.Done {
			n++
		}
	}
	return n
}
