package guard

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/embedded/embeddedtest"
)

// testBundle is a guard on fresh control and limits buckets.
type testBundle struct {
	js              jetstream.JetStream
	control, limits jetstream.KeyValue
	g               *Guard
}

const testCooldown = 10 * time.Minute

func setup(t *testing.T, cfg Config) *testBundle {
	t.Helper()
	_, _, js := embeddedtest.Start(t)
	ctx := context.Background()
	control, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "CONTROL"})
	if err != nil {
		t.Fatal(err)
	}
	limits, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "LIMITS"})
	if err != nil {
		t.Fatal(err)
	}
	cfg.SlotTTL, cfg.Cooldown = time.Minute, testCooldown
	return &testBundle{js: js, control: control, limits: limits, g: New(control, limits, cfg, zap.NewNop())}
}

// watch runs the guard's circuits watch until the test ends.
func (b *testBundle) watch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); b.g.Watch(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

func limited(name string, writes int) *rules.Rule {
	return &rules.Rule{Name: name, Limit: &rules.Limit{Writes: writes, Per: time.Hour}}
}

// refuse is Take that must refuse.
func refuse(t *testing.T, g *Guard, r *rules.Rule) *Refusal {
	t.Helper()
	s, rf := g.Take(context.Background(), r, time.Now())
	if rf == nil {
		s.Release()
		t.Fatalf("rule %s: a slot, want a refusal", r.Name)
	}
	return rf
}

// allow is Take that must give slots.
func allow(t *testing.T, g *Guard, r *rules.Rule) Slots {
	t.Helper()
	s, rf := g.Take(context.Background(), r, time.Now())
	if rf != nil {
		t.Fatalf("rule %s refused: %+v", r.Name, rf)
	}
	return s
}

// TestTakeTripsOnceAndResumes: past its limit a rule's circuit opens, and
// only the call that opened it says so (on either replica); then the
// rule is blocked until an operator deletes the circuit key, which also
// forgets the window's writes.
func TestTakeTripsOnceAndResumes(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	b.watch(t)
	other := New(b.control, b.limits, Config{SlotTTL: time.Minute, Cooldown: testCooldown}, nil) // a second replica
	r := limited("r", 1)
	allow(t, b.g, r).Confirm(time.Now())
	rf := refuse(t, b.g, r)
	if rf.Kind != CircuitOpen || rf.Rule != "r" || !rf.Tripped || rf.Wait != testCooldown ||
		rf.Msg != "rule r exceeded its write limit: its circuit is open" {
		t.Errorf("the exceeding take: %+v, want circuit_open tripped, waiting the cool-down", rf)
	}
	if rf := refuse(t, other, r); rf.Kind != CircuitOpen || rf.Tripped {
		t.Errorf("the other replica: %+v, want circuit_open, not tripped again", rf)
	}
	rf = refuse(t, b.g, r)
	if rf.Kind != CircuitOpen || rf.Tripped || rf.Wait <= 0 || rf.Wait > testCooldown || !strings.HasPrefix(rf.Msg, "the circuit of rule r (or the global one) is open") {
		t.Errorf("while open: %+v, want circuit_open until the cool-down", rf)
	}
	allow(t, b.g, limited("unrelated", 1)).Release() // another rule's circuit is its own
	if err := b.control.Delete(context.Background(), CircuitKey("r")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		s, rf := b.g.Take(context.Background(), r, time.Now())
		if rf == nil {
			s.Release()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the resume: %+v, want a slot (the window reset)", rf)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestTakeBusy: slots held by events in flight make others wait, without
// a circuit; a released slot is free again.
func TestTakeBusy(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	r := limited("r", 1)
	s := allow(t, b.g, r)
	if rf := refuse(t, b.g, r); rf.Kind != Busy || rf.Tripped || rf.Wait != 0 || rf.Rule != "r" {
		t.Errorf("%+v, want busy", rf)
	}
	s.Release()
	allow(t, b.g, r).Release()
}

// TestTakeGlobal: the global limit counts every rule's writes, with or
// without limits of their own; a rule's own slot is handed back when the
// global one refuses.
func TestTakeGlobal(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{GlobalWrites: 1, GlobalPer: time.Hour})
	allow(t, b.g, &rules.Rule{Name: "free"}).Confirm(time.Now())
	own := limited("own", 1)
	rf := refuse(t, b.g, own)
	if rf.Kind != CircuitOpen || rf.Rule != GlobalCircuit || !rf.Tripped {
		t.Errorf("%+v, want the global circuit tripped", rf)
	}
	s, wait, busy, err := b.g.limits.take(own, time.Now())
	if s == nil || wait != 0 || busy || err != nil {
		t.Errorf("rule own's slot was not handed back: wait %s busy %t err %v", wait, busy, err)
	}
	b.g.limits.release(s)
	if rf := refuse(t, b.g, &rules.Rule{Name: "free"}); rf.Kind != CircuitOpen || rf.Tripped {
		t.Errorf("%+v, want every rule blocked by the global circuit", rf)
	}
}

// TestTakeFailsClosed: when the limits bucket is gone a limited rule is
// refused (unavailable, with the bucket's error); a rule without limits
// touches no bucket and writes.
func TestTakeFailsClosed(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	if err := b.js.DeleteKeyValue(context.Background(), "LIMITS"); err != nil {
		t.Fatal(err)
	}
	rf := refuse(t, b.g, limited("r", 2))
	if rf.Kind != Unavailable || rf.Err == nil || rf.Tripped || rf.Msg != "the write window of rule r cannot be read: no write until it can" {
		t.Errorf("%+v, want unavailable with the bucket's error", rf)
	}
	allow(t, b.g, &rules.Rule{Name: "free"}).Confirm(time.Now())
}

// slowKV delays every Get.
type slowKV struct {
	jetstream.KeyValue
	delay time.Duration
}

func (s slowKV) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	time.Sleep(s.delay)
	return s.KeyValue.Get(ctx, key)
}

// TestCircuitCloseDoesNotHoldGuards: closing a circuit resets the shared
// write window (KV round trips); it must not hold the circuits' lock,
// which every event's guard reads.
func TestCircuitCloseDoesNotHoldGuards(t *testing.T) {
	t.Parallel()
	b := setup(t, Config{})
	g := New(b.control, slowKV{KeyValue: b.limits, delay: 2 * time.Second}, Config{SlotTTL: time.Minute, Cooldown: time.Minute}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go g.Watch(ctx)
	g.circuits.trip(ctx, "x", "test", time.Now(), time.Minute)
	time.Sleep(300 * time.Millisecond)
	if err := b.control.Delete(ctx, CircuitKey("x")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	t0 := time.Now()
	g.circuits.blocked("some-other-rule", time.Now())
	if d := time.Since(t0); d > time.Second {
		t.Errorf("blocked() for an unrelated rule waited %s behind the limits reset of a closed circuit", d)
	}
}
