package worker

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// read starts a read of key for the event seq and fails if it is covered.
func mustRead(t *testing.T, o *observations, key string, seq uint64) func(observed) (observation, bool) {
	t.Helper()
	_, ok, end, _ := o.start(context.Background(), key, seq, true)
	if ok {
		t.Fatalf("seq %d is covered, want a read", seq)
	}
	return end
}

func isCovered(o *observations, key string, seq uint64) (observation, bool) {
	ob, ok, end, _ := o.start(context.Background(), key, seq, true)
	if !ok {
		end(notRead)
	}
	return ob, ok
}

func TestObservationsCoverOnlyEarlierEvents(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o := newObservations(time.Minute, func() time.Time { return now })
	key := observationKey("huawei.kms.enable_key_rotation", map[string]string{"key_id": "k1", "region": "r"})
	if key != observationKey("huawei.kms.enable_key_rotation", map[string]string{"region": "r", "key_id": "k1"}) {
		t.Fatal("the key depends on map order")
	}
	o.received(5)
	_, ok, end, _ := o.start(context.Background(), key, 5, true) // the read begins after seq 5 was received
	if ok {
		t.Fatal("covered before any read")
	}
	o.received(9) // seq 9 arrives during the read
	end(compliant)
	if ob, ok := isCovered(o, key, 5); !ok || ob.mark != 5 {
		t.Errorf("seq 5 not covered by a read that began after it: %+v %t", ob, ok)
	}
	if _, ok := isCovered(o, key, 3); !ok {
		t.Error("an earlier event is not covered")
	}
	if _, ok := isCovered(o, key, 9); ok {
		t.Error("an event received during the read is covered: it may report a newer drift")
	}
	if _, ok, end, _ := o.start(context.Background(), key, 3, false); ok {
		t.Error("covered although answer is false (a redelivery)")
	} else {
		end(notRead)
	}
	if _, ok := isCovered(o, observationKey("huawei.kms.enable_key_rotation", map[string]string{"key_id": "k2", "region": "r"}), 1); ok {
		t.Error("another resource is covered")
	}
	now = now.Add(time.Minute)
	if _, ok := isCovered(o, key, 5); ok {
		t.Error("an expired observation covers")
	}
	now = now.Add(time.Second)
	mustRead(t, o, key, 9)(compliant)
	if _, ok := isCovered(o, key, 9); !ok {
		t.Error("a fresh read does not cover")
	}
	mustRead(t, o, key, 10)(drifted) // found drifted: the old observation goes
	if _, ok := isCovered(o, key, 1); ok {
		t.Error("a drifted read left an observation")
	}
	o.received(10)
	mustRead(t, o, key, 10)(compliant)
	mustRead(t, o, key, 11)(notRead) // nothing learned: the observation stays
	if _, ok := isCovered(o, key, 10); !ok {
		t.Error("a read that did not happen removed an observation")
	}
}

func TestObservationsWaitForReadInFlight(t *testing.T) {
	t.Parallel()
	o := newObservations(time.Minute, time.Now)
	o.received(7)
	_, _, end, _ := o.start(context.Background(), "k", 7, true)
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
	end(compliant)
	if !<-got {
		t.Error("not covered by the read it waited for")
	}
	off := newObservations(0, time.Now)
	_, _, end, _ = off.start(context.Background(), "k", 0, true)
	end(compliant)
	if _, ok := isCovered(off, "k", 0); ok {
		t.Error("coalescing is off but covered")
	}
}

func TestObservationsProbeTheStream(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o := newObservations(time.Minute, func() time.Time { return now })
	probes, last := 0, uint64(100)
	var fail error
	o.probe = func(context.Context) (uint64, error) { probes++; return last, fail }
	o.received(3)
	mustRead(t, o, "k", 3)(compliant)
	if _, ok := isCovered(o, "k", 100); !ok {
		t.Error("a read after a probe does not cover what the stream already held")
	}
	if _, ok := isCovered(o, "k", 101); ok {
		t.Error("covers an event stored after the probe")
	}
	last = 200
	mustRead(t, o, "k", 150)(compliant)
	if probes != 1 {
		t.Errorf("probe not reused within %s: %d probes", probeEvery, probes)
	}
	now = now.Add(probeEvery)
	fail = context.DeadlineExceeded
	mustRead(t, o, "k", 150)(compliant)
	if _, ok := isCovered(o, "k", 100); !ok || probes != 2 {
		t.Errorf("a failed probe must fall back to the last good one (probes %d)", probes)
	}
	if _, ok := isCovered(o, "k", 150); ok {
		t.Error("a failed probe's value was used")
	}
	mustRead(t, o, "k", 150)(compliant)
	if probes != 2 {
		t.Errorf("a failed probe is retried at once: %d probes", probes)
	}
}

// TestObservationsGroupWaiters: events that arrive while a read runs wait
// for it; those it cannot answer (stored after it began) are answered
// together by the one next read; past maxWaiters an event is turned away.
func TestObservationsGroupWaiters(t *testing.T) {
	t.Parallel()
	o := newObservations(time.Minute, time.Now)
	var parked atomic.Int32
	o.park = func() func() { parked.Add(1); return func() {} }
	o.received(1)
	end1 := mustRead(t, o, "k", 1) // the read in flight began after seq 1 only
	type result struct {
		covered bool
		end     func(observed) (observation, bool)
	}
	results := make(chan result, 3)
	for seq := uint64(2); seq <= 4; seq++ {
		o.received(seq)
		go func() {
			_, ok, end, err := o.start(context.Background(), "k", seq, true)
			if err != nil {
				t.Error(err)
			}
			results <- result{ok, end}
		}()
	}
	waitUntil(t, func() bool { o.mu.Lock(); defer o.mu.Unlock(); return o.inflight["k"].waiters == 3 })
	end1(compliant) // covers seq 1 only: one of the three makes the next read
	var next func(observed) (observation, bool)
	reads := 0
	for range 3 {
		select {
		case r := <-results:
			if !r.covered {
				reads++
				next = r.end
				next(compliant) // began after 2, 3 and 4 were stored: answers the others
			}
		case <-time.After(5 * time.Second):
			t.Fatal("a waiter was not answered")
		}
	}
	if reads != 1 {
		t.Errorf("%d reads for three waiting events, want 1", reads)
	}
	o.received(5)
	end := mustRead(t, o, "k", 5)
	o.mu.Lock()
	o.inflight["k"].waiters = maxWaiters
	o.mu.Unlock()
	if _, _, _, err := o.start(context.Background(), "k", 5, true); !errors.Is(err, errCrowded) {
		t.Errorf("err = %v, want errCrowded past %d waiters", err, maxWaiters)
	}
	end(notRead)
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
