package guard

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/embedded/embeddedtest"
)

func TestWindow(t *testing.T) {
	t.Parallel()
	var w window
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	take := func(id string, at time.Time) (time.Duration, bool, bool) {
		return w.take(id, 2, time.Minute, time.Hour, at)
	}
	if _, busy, ok := take("a", t0); busy || !ok {
		t.Fatal("the first slot must be free")
	}
	if _, busy, ok := take("b", t0.Add(time.Second)); busy || !ok {
		t.Fatal("the second slot must be free")
	}
	if wait, busy, ok := take("c", t0.Add(2*time.Second)); wait != 0 || !busy || ok {
		t.Errorf("both slots in flight, no write yet: got wait %s busy %t, want busy (no circuit)", wait, busy)
	}
	w.release("b") // the second event found the resource compliant
	w.confirm("a", t0)
	if _, busy, ok := take("d", t0.Add(3*time.Second)); busy || !ok {
		t.Error("one write and a free slot")
	}
	w.confirm("d", t0.Add(3*time.Second))
	if wait, busy, _ := take("e", t0.Add(4*time.Second)); wait != 56*time.Second || busy {
		t.Errorf("two writes in the window: wait %s busy %t, want 56s until the first leaves it", wait, busy)
	}
	if _, _, ok := take("f", t0.Add(61*time.Second)); !ok {
		t.Error("the window must slide")
	}
	if !w.reset(7) || w.reset(7) || len(w.Writes) != 0 || len(w.Held) != 1 {
		t.Errorf("a resume must forget the writes once and keep the slots: %+v", w)
	}
	if w.trim(time.Minute, t0.Add(2*time.Hour)); len(w.Held) != 0 {
		t.Error("a slot nobody renews must expire")
	}
}

// limitBucket is a limits bucket on a fresh embedded JetStream.
func limitBucket(t *testing.T) (jetstream.JetStream, jetstream.KeyValue) {
	t.Helper()
	_, _, js := embeddedtest.Start(t)
	kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "LIMITS"})
	if err != nil {
		t.Fatal(err)
	}
	return js, kv
}

// newLimiter is one replica's limiter on the shared bucket.
func newLimiter(kv jetstream.KeyValue, ttl time.Duration) *limiter {
	l := &limiter{}
	l.init(kv, ttl, zap.NewNop())
	return l
}

// TestLimiterSharedByReplicas: two limiters (two replicas) on one bucket
// count one window: slots and writes of either fill it for both.
func TestLimiterSharedByReplicas(t *testing.T) {
	t.Parallel()
	_, kv := limitBucket(t)
	a, b := newLimiter(kv, time.Minute), newLimiter(kv, time.Minute)
	r := &rules.Rule{Name: "r", Limit: &rules.Limit{Writes: 2, Per: time.Hour}}
	now := time.Now()
	sa, _, _, err := a.take(r, now)
	if err != nil || sa == nil {
		t.Fatal("a: the first slot must be free", err)
	}
	sb, _, _, _ := b.take(r, now)
	if sb == nil {
		t.Fatal("b: the second slot must be free")
	}
	if s, wait, busy, _ := a.take(r, now); s != nil || wait != 0 || !busy {
		t.Errorf("a: both slots in flight (one each): slot %v wait %s busy %t, want busy", s, wait, busy)
	}
	a.confirm(sa, time.Now())
	b.release(sb)
	sb, _, _, _ = b.take(r, time.Now())
	if sb == nil {
		t.Fatal("b: one write and a free slot")
	}
	b.confirm(sb, time.Now())
	if s, wait, busy, _ := a.take(r, time.Now()); s != nil || busy || wait < 59*time.Minute {
		t.Errorf("a: two writes in the window: slot %v wait %s busy %t, want the circuit (wait ~1h)", s, wait, busy)
	}
	// An operator's resume reaches both replicas; only the first reset
	// counts, so a write made between the two stays counted.
	if err := a.reset("r", 9); err != nil {
		t.Fatal(err)
	}
	s, _, _, _ := a.take(r, time.Now())
	a.confirm(s, time.Now())
	if err := b.reset("r", 9); err != nil {
		t.Fatal(err)
	}
	if s, _, _, _ := b.take(r, time.Now()); s == nil {
		t.Fatal("b: after the resume, one write and a free slot")
	} else {
		b.confirm(s, time.Now())
	}
	if s, wait, _, _ := b.take(r, time.Now()); s != nil || wait == 0 {
		t.Errorf("b: the late reset must not forget the write after the resume: slot %v wait %s", s, wait)
	}
	// A rule without limits never touches the bucket (a limiter without
	// one would panic).
	if s, wait, busy, err := (&limiter{}).take(&rules.Rule{Name: "free"}, now); s != nil || wait != 0 || busy || err != nil {
		t.Error("a rule without limits is never limited")
	}
}

// TestLimiterConcurrentReplicas: two replicas, 40 events at once each on
// a rule limited to 5 writes: exactly 5 are written, whatever the
// interleaving of the compare-and-sets.
func TestLimiterConcurrentReplicas(t *testing.T) {
	t.Parallel()
	_, kv := limitBucket(t)
	ls := []*limiter{newLimiter(kv, time.Minute), newLimiter(kv, time.Minute)}
	r := &rules.Rule{Name: "burst", Limit: &rules.Limit{Writes: 5, Per: time.Hour}}
	var writes, circuits atomic.Int32
	var wg sync.WaitGroup
	for i := range 80 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := ls[i%2]
			for {
				s, wait, busy, err := l.take(r, time.Now())
				switch {
				case err != nil:
					t.Error(err)
					return
				case busy:
					time.Sleep(time.Millisecond)
					continue
				case wait > 0:
					circuits.Add(1)
					return
				}
				if i%3 == 0 { // found compliant: hands the slot back
					l.release(s)
					continue
				}
				writes.Add(1)
				l.confirm(s, time.Now())
				return
			}
		}()
	}
	wg.Wait()
	if writes.Load() != 5 || int(circuits.Load()) != 80-5 {
		t.Errorf("%d writes, %d events stopped by the limit; want 5 and 75", writes.Load(), circuits.Load())
	}
}

// TestLimiterSlotOfACrashedReplica: a replica that took a slot and died
// holds it only until it expires; a live one renews its slot meanwhile.
func TestLimiterSlotOfACrashedReplica(t *testing.T) {
	t.Parallel()
	_, kv := limitBucket(t)
	const ttl = 300 * time.Millisecond
	dead, alive, other := newLimiter(kv, ttl), newLimiter(kv, ttl), newLimiter(kv, ttl)
	r := &rules.Rule{Name: "crash", Limit: &rules.Limit{Writes: 2, Per: time.Hour}}
	sd, _, _, _ := dead.take(r, time.Now())
	sa, _, _, _ := alive.take(r, time.Now())
	if sd == nil || sa == nil {
		t.Fatal("two free slots")
	}
	sd.stop() // the process dies: nobody renews or releases its slot
	if s, _, busy, _ := other.take(r, time.Now()); s != nil || !busy {
		t.Fatal("both slots are held")
	}
	time.Sleep(3 * ttl)
	s, _, _, _ := other.take(r, time.Now())
	if s == nil {
		t.Fatal("the dead replica's slot did not expire")
	}
	defer other.release(s)
	if s2, _, busy, _ := other.take(r, time.Now()); s2 != nil || !busy {
		t.Error("the live replica's slot expired although it renews it")
	}
	alive.confirm(sa, time.Now())
}

// TestLimiterFailsClosed: when the bucket is gone a limited rule gets an
// error (the event waits), never a slot.
func TestLimiterFailsClosed(t *testing.T) {
	t.Parallel()
	js, kv := limitBucket(t)
	l := newLimiter(kv, time.Minute)
	if err := js.DeleteKeyValue(context.Background(), "LIMITS"); err != nil {
		t.Fatal(err)
	}
	r := &rules.Rule{Name: "r", Limit: &rules.Limit{Writes: 2, Per: time.Hour}}
	s, _, _, err := l.take(r, time.Now())
	if s != nil || err == nil || errors.Is(err, errLimitContended) {
		t.Errorf("slot %v err %v, want no slot and the bucket's error", s, err)
	}
}
