package ledger

import (
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/embedded/embeddedtest"
)

func newTestLedger(t *testing.T, ttl time.Duration) (*Ledger, *Ledger) {
	t.Helper()
	_, _, js := embeddedtest.Start(t)
	kv, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "LEDGER"})
	if err != nil {
		t.Fatal(err)
	}
	return New(kv, ttl), New(kv, ttl) // two replicas
}

// TestLeaseLifecycle: a claim excludes every other claim until it is
// released or done; a done record answers every later claim; a lease
// taken over by another claim can no longer be renewed, recorded or
// released by the first.
func TestLeaseLifecycle(t *testing.T) {
	t.Parallel()
	a, b := newTestLedger(t, time.Minute)
	ctx := t.Context()
	key := EventKey("HC.KMS", "ev-1", "rule")
	la, err := a.Claim(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var busy *BusyError
	if _, err := b.Claim(ctx, key); !errors.As(err, &busy) || busy.Stale {
		t.Fatalf("second claim: %v, want a live BusyError", err)
	}
	if _, err := a.Claim(ctx, key); !errors.As(err, &busy) {
		t.Fatalf("a second claim by the same replica: %v, want busy (one owner per claim)", err)
	}
	if err := a.Renew(ctx, &la); err != nil {
		t.Fatal(err)
	}
	if err := a.Done(ctx, la, audit.Remediated); err != nil {
		t.Fatal(err)
	}
	var done *DoneError
	if _, err := b.Claim(ctx, key); !errors.As(err, &done) || done.Outcome != audit.Remediated {
		t.Fatalf("claim after done: %v, want DoneError remediated", err)
	}

	res := ResourceKey("huawei.kms.enable_key_rotation", "key-1")
	l1, err := a.Claim(ctx, res)
	if err != nil {
		t.Fatal(err)
	}
	a.Release(ctx, l1)
	l2, err := b.Claim(ctx, res)
	if err != nil {
		t.Fatalf("claim after release: %v", err)
	}
	if err := a.Renew(ctx, &l1); !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		t.Errorf("renewing a lease someone else holds: %v, want a revision mismatch", err)
	}
	if err := a.ReleaseOwned(ctx, l1); !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		t.Errorf("releasing a lease someone else holds: %v, want a revision mismatch", err)
	}
	if err := b.Done(ctx, l2, audit.AlreadyCompliant); err != nil {
		t.Errorf("the holder's done record: %v", err)
	}
}

// TestExpiredLeaseIsTakenOver: a lease its holder stopped renewing is
// taken over once it has expired.
func TestExpiredLeaseIsTakenOver(t *testing.T) {
	t.Parallel()
	a, b := newTestLedger(t, 200*time.Millisecond)
	ctx := t.Context()
	key := EventKey("s", "ev-2", "rule")
	la, err := a.Claim(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond)
	if _, err := b.Claim(ctx, key); err != nil {
		t.Fatalf("claiming an expired lease: %v", err)
	}
	if err := a.Done(ctx, la, audit.Remediated); !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		t.Errorf("the first holder recorded over the take-over: %v", err)
	}
}

// TestWaitsAndFailures: the wait count and its worked mark round-trip; a
// malformed count is ErrMalformed; the first failure is kept, then
// forgotten once read.
func TestWaitsAndFailures(t *testing.T) {
	t.Parallel()
	l, _ := newTestLedger(t, time.Minute)
	ctx := t.Context()
	if w, err := l.Waits(ctx, "S", 1); err != nil || w != (Waits{}) {
		t.Fatalf("never waited: %+v %v", w, err)
	}
	if err := l.SetWaits(ctx, "S", 1, Waits{Count: 3, Worked: true}); err != nil {
		t.Fatal(err)
	}
	if w, err := l.Waits(ctx, "S", 1); err != nil || w != (Waits{Count: 3, Worked: true}) {
		t.Fatalf("waits %+v %v", w, err)
	}
	if err := l.Put(ctx, waitsKey("S", 2), []byte("x+")); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Waits(ctx, "S", 2); !errors.Is(err, ErrMalformed) {
		t.Errorf("malformed count: %v", err)
	}
	l.ForgetWaits(ctx, "S", 1)
	if w, _ := l.Waits(ctx, "S", 1); w != (Waits{}) {
		t.Errorf("forgotten waits read as %+v", w)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l.now = func() time.Time { return t0 }
	l.NoteFailure(ctx, "S", 9)
	l.now = func() time.Time { return t0.Add(time.Hour) }
	l.NoteFailure(ctx, "S", 9) // a later failure keeps the first
	now := t0.Add(2 * time.Hour)
	if got := l.FirstFailure(ctx, "S", 9, now); !got.Equal(t0) {
		t.Errorf("first failure %s, want %s", got, t0)
	}
	if got := l.FirstFailure(ctx, "S", 9, now); !got.Equal(now) {
		t.Errorf("first failure after it was read: %s, want now", got)
	}
}
