package worker

import (
	"context"
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
