package worker

import (
	"context"
	"testing"
	"time"
)

func TestObservationsCoverOnlyEarlierEvents(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o := newObservations(time.Minute, func() time.Time { return now })
	key := observationKey("huawei.kms.enable_key_rotation", map[string]string{"key_id": "k1", "region": "r"})
	if key != observationKey("huawei.kms.enable_key_rotation", map[string]string{"region": "r", "key_id": "k1"}) {
		t.Fatal("the key depends on map order")
	}
	o.received(5)
	if _, ok := o.covered(key, 5, nil); ok {
		t.Fatal("covered before any read")
	}
	end := o.begin(context.Background(), key) // the read begins after seq 5 was received
	o.received(9)                             // seq 9 arrives during the read
	end(true)
	if ob, ok := o.covered(key, 5, nil); !ok || ob.mark != 5 {
		t.Errorf("seq 5 not covered by a read that began after it: %+v %t", ob, ok)
	}
	if _, ok := o.covered(key, 3, nil); !ok {
		t.Error("an earlier event is not covered")
	}
	if _, ok := o.covered(key, 9, nil); ok {
		t.Error("an event received during the read is covered: it may report a newer drift")
	}
	if _, ok := o.covered(observationKey("huawei.kms.enable_key_rotation", map[string]string{"key_id": "k2", "region": "r"}), 1, nil); ok {
		t.Error("another resource is covered")
	}
	now = now.Add(time.Minute)
	if _, ok := o.covered(key, 5, nil); ok {
		t.Error("an expired observation covers")
	}
	now = now.Add(time.Second)
	end = o.begin(context.Background(), key)
	end(true)
	if _, ok := o.covered(key, 9, nil); !ok {
		t.Error("a fresh read does not cover")
	}
	end = o.begin(context.Background(), key)
	end(false) // found drifted (or failed): the old observation goes
	if _, ok := o.covered(key, 1, nil); ok {
		t.Error("a drifted read left an observation")
	}
}

func TestObservationsWaitForReadInFlight(t *testing.T) {
	t.Parallel()
	o := newObservations(time.Minute, time.Now)
	o.received(7)
	end := o.begin(context.Background(), "k")
	got := make(chan bool)
	go func() {
		_, ok := o.covered("k", 7, nil)
		got <- ok
	}()
	select {
	case <-got:
		t.Fatal("did not wait for the read in flight")
	case <-time.After(20 * time.Millisecond):
	}
	end(true)
	if !<-got {
		t.Error("not covered by the read it waited for")
	}
	off := newObservations(-1, time.Now)
	off.begin(context.Background(), "k")(true)
	if _, ok := off.covered("k", 0, nil); ok {
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
	o.begin(context.Background(), "k")(true)
	if _, ok := o.covered("k", 100, nil); !ok {
		t.Error("a read after a probe does not cover what the stream already held")
	}
	if _, ok := o.covered("k", 101, nil); ok {
		t.Error("covers an event stored after the probe")
	}
	last = 200
	o.begin(context.Background(), "k")(true)
	if probes != 1 {
		t.Errorf("probe not reused within %s: %d probes", probeEvery, probes)
	}
	now = now.Add(probeEvery)
	fail = context.DeadlineExceeded
	o.begin(context.Background(), "k")(true)
	if _, ok := o.covered("k", 100, nil); !ok || probes != 2 {
		t.Errorf("a failed probe must fall back to the last good one (probes %d)", probes)
	}
	if _, ok := o.covered("k", 150, nil); ok {
		t.Error("a failed probe's value was used")
	}
}
