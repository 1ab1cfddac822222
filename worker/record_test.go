package worker

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/remediator/remediator/worker/audit"
)

// failingStarter is a Starter whose first records fail once started: the
// publish went out, but its acknowledgement says it was not stored.
type failingStarter struct {
	next  audit.Recorder
	fails atomic.Int32
}

func (f *failingStarter) Record(ctx context.Context, d audit.Decision) error {
	p, err := f.Start(ctx, d)
	if err != nil {
		return err
	}
	return p(ctx)
}

func (f *failingStarter) Start(ctx context.Context, d audit.Decision) (audit.Pending, error) {
	if d.Final && f.fails.Add(-1) >= 0 {
		return func(context.Context) error { return errors.New("stream full") }, nil
	}
	return audit.Start(ctx, f.next, d)
}

// TestRecordFailedAfterStartIsRetried: a record that fails after the
// handler moved on (its acknowledgement says it was not stored) leaves the
// message unacked and retried; the retry records it, once, and acks.
func TestRecordFailedAfterStartIsRetried(t *testing.T) {
	var fs *failingStarter
	r := rvSetup(t, "", nil, func(w *Worker) {
		fs = &failingStarter{next: w.rec}
		fs.fails.Store(1)
		w.rec = fs
	})
	r.publish(rvEvent("rec-1", rvKeyOff))
	ds := r.waitFinal(1, 15*time.Second)
	time.Sleep(200 * time.Millisecond) // a second, wrong, final record would show by now
	final := r.mem.Final()["rec-1"]
	t.Logf("final: %s attempt %d; final records %d; writes %d", ds[0].Outcome, ds[0].Attempt, len(final), r.sim.Writes(""))
	if len(final) != 1 || final[0].Outcome != audit.Remediated || final[0].Attempt != 2 {
		t.Errorf("final records %+v, want one, remediated, on the second attempt (the first one's record failed)", final)
	}
	if n := r.sim.Writes(""); n != 1 {
		t.Errorf("%d writes, want 1 (the retry finds the done record)", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := r.js.Consumer(context.Background(), r.cfg.Stream, r.cfg.Consumer)
		if err != nil {
			t.Fatal(err)
		}
		info, err := c.Info(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if info.NumPending == 0 && info.NumAckPending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the message is not settled: %d pending, %d awaiting an ack", info.NumPending, info.NumAckPending)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
