package coalesce

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// read starts a read of key for the event seq and fails if it is covered.
func mustRead(t *testing.T, o *Table, key string, seq uint64) func(Found) (Observation, bool) {
	t.Helper()
	_, ok, end, _ := o.Start(context.Background(), key, seq, true)
	if ok {
		t.Fatalf("seq %d is covered, want a read", seq)
	}
	return end
}

func isCovered(o *Table, key string, seq uint64) (Observation, bool) {
	ob, ok, end, _ := o.Start(context.Background(), key, seq, true)
	if !ok {
		end(NotRead)
	}
	return ob, ok
}

func TestObservationsCoverOnlyEarlierEvents(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o := New(time.Minute, func() time.Time { return now })
	key := Key("huawei.kms.enable_key_rotation", map[string]string{"key_id": "k1", "region": "r"})
	if key != Key("huawei.kms.enable_key_rotation", map[string]string{"region": "r", "key_id": "k1"}) {
		t.Fatal("the key depends on map order")
	}
	o.Received(5)
	_, ok, end, _ := o.Start(context.Background(), key, 5, true) // the read begins after seq 5 was received
	if ok {
		t.Fatal("covered before any read")
	}
	o.Received(9) // seq 9 arrives during the read
	end(Compliant)
	if ob, ok := isCovered(o, key, 5); !ok || ob.Mark != 5 {
		t.Errorf("seq 5 not covered by a read that began after it: %+v %t", ob, ok)
	}
	if _, ok := isCovered(o, key, 3); !ok {
		t.Error("an earlier event is not covered")
	}
	if _, ok := isCovered(o, key, 9); ok {
		t.Error("an event received during the read is covered: it may report a newer drift")
	}
	if _, ok, end, _ := o.Start(context.Background(), key, 3, false); ok {
		t.Error("covered although answer is false (a redelivery)")
	} else {
		end(NotRead)
	}
	if _, ok := isCovered(o, Key("huawei.kms.enable_key_rotation", map[string]string{"key_id": "k2", "region": "r"}), 1); ok {
		t.Error("another resource is covered")
	}
	now = now.Add(time.Minute)
	if _, ok := isCovered(o, key, 5); ok {
		t.Error("an expired Observation covers")
	}
	now = now.Add(time.Second)
	mustRead(t, o, key, 9)(Compliant)
	if _, ok := isCovered(o, key, 9); !ok {
		t.Error("a fresh read does not cover")
	}
	mustRead(t, o, key, 10)(Drifted) // found Drifted: the old Observation goes
	if _, ok := isCovered(o, key, 1); ok {
		t.Error("a Drifted read left an Observation")
	}
	o.Received(10)
	mustRead(t, o, key, 10)(Compliant)
	mustRead(t, o, key, 11)(NotRead) // nothing learned: the Observation stays
	if _, ok := isCovered(o, key, 10); !ok {
		t.Error("a read that did not happen removed an Observation")
	}
}

func TestObservationsWaitForReadInFlight(t *testing.T) {
	t.Parallel()
	o := New(time.Minute, time.Now)
	o.Received(7)
	_, _, end, _ := o.Start(context.Background(), "k", 7, true)
	got := make(chan bool)
	go func() {
		_, ok := isCovered(o, "k", 7)
		got <- ok
	}()
	select {
	case <-got:
		t.Fatal("did not wait for the read in flight")
	case <-time.After(20 * time.Millisecond):
	}
	end(Compliant)
	if !<-got {
		t.Error("not covered by the read it waited for")
	}
	off := New(0, time.Now)
	_, _, end, _ = off.Start(context.Background(), "k", 0, true)
	end(Compliant)
	if _, ok := isCovered(off, "k", 0); ok {
		t.Error("coalescing is off but covered")
	}
}

func TestObservationsProbeTheStream(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o := New(time.Minute, func() time.Time { return now })
	probes, last := 0, uint64(100)
	var fail error
	o.Probe = func(context.Context) (uint64, error) { probes++; return last, fail }
	o.Received(3)
	mustRead(t, o, "k", 3)(Compliant)
	if _, ok := isCovered(o, "k", 100); !ok {
		t.Error("a read after a probe does not cover what the stream already held")
	}
	if _, ok := isCovered(o, "k", 101); ok {
		t.Error("covers an event stored after the probe")
	}
	last = 200
	mustRead(t, o, "k", 150)(Compliant)
	if probes != 1 {
		t.Errorf("probe not reused within %s: %d probes", probeEvery, probes)
	}
	now = now.Add(probeEvery)
	fail = context.DeadlineExceeded
	mustRead(t, o, "k", 150)(Compliant)
	if _, ok := isCovered(o, "k", 100); !ok || probes != 2 {
		t.Errorf("a failed probe must fall back to the last good one (probes %d)", probes)
	}
	if _, ok := isCovered(o, "k", 150); ok {
		t.Error("a failed probe's value was used")
	}
	mustRead(t, o, "k", 150)(Compliant)
	if probes != 2 {
		t.Errorf("a failed probe is retried at once: %d probes", probes)
	}
}

// TestObservationsGroupWaiters: events that arrive while a read runs wait
// for it; those it cannot answer (stored after it began) are answered
// together by the one next read; past maxWaiters an event is turned away.
func TestObservationsGroupWaiters(t *testing.T) {
	t.Parallel()
	o := New(time.Minute, time.Now)
	var parked atomic.Int32
	o.Park = func() func() { parked.Add(1); return func() {} }
	o.Received(1)
	end1 := mustRead(t, o, "k", 1) // the read in flight began after seq 1 only
	type result struct {
		covered bool
		end     func(Found) (Observation, bool)
	}
	results := make(chan result, 3)
	for seq := uint64(2); seq <= 4; seq++ {
		o.Received(seq)
		go func() {
			_, ok, end, err := o.Start(context.Background(), "k", seq, true)
			if err != nil {
				t.Error(err)
			}
			results <- result{ok, end}
		}()
	}
	waitUntil(t, func() bool { o.mu.Lock(); defer o.mu.Unlock(); return o.inflight["k"].waiters == 3 })
	end1(Compliant) // covers seq 1 only: one of the three makes the next read
	var next func(Found) (Observation, bool)
	reads := 0
	for range 3 {
		select {
		case r := <-results:
			if !r.covered {
				reads++
				next = r.end
				next(Compliant) // began after 2, 3 and 4 were stored: answers the others
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a waiter was not answered")
		}
	}
	if reads != 1 {
		t.Errorf("%d reads for three waiting events, want 1", reads)
	}
	o.Received(5)
	end := mustRead(t, o, "k", 5)
	o.mu.Lock()
	o.inflight["k"].waiters = maxWaiters
	o.mu.Unlock()
	if _, _, _, err := o.Start(context.Background(), "k", 5, true); !errors.Is(err, ErrCrowded) {
		t.Errorf("err = %v, want ErrCrowded past %d waiters", err, maxWaiters)
	}
	end(NotRead)
	if n := parked.Load(); n < 3 {
		t.Errorf("%d waits parked, want at least 3", n)
	}
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not met")
		}
		time.Sleep(time.Millisecond)
	}
}
