package approval

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/worker/embedded/embeddedtest"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newStore(t *testing.T) (*Store, *Store, *clock) {
	t.Helper()
	_, _, js := embeddedtest.Start(t)
	kv, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "APPROVALS"})
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	return NewStore(kv, c.now), NewStore(kv, c.now), c // two replicas
}

func plan(event string, approvers int) Plan {
	return Plan{ID: ID("r", "key-1", nil), Rule: "r", Action: "huawei.kms.disable_key", Resource: "key-1",
		Event: Event{ID: event, Source: "s"}, Actor: Actor{Type: "user", ID: "u-1", Name: "mallory"}, Approvers: approvers}
}

// TestOpenJoinApprove: a second event about the same rule and resource
// joins the pending plan; a redelivery does not join twice; the actor and
// a repeated approver are refused; the plan is approved at N distinct
// approvers, after which approving is refused.
func TestOpenJoinApprove(t *testing.T) {
	t.Parallel()
	a, b, _ := newStore(t)
	ctx := t.Context()
	p, joined, err := a.Open(ctx, plan("e1", 2), time.Hour)
	if err != nil || joined || p.State != Pending {
		t.Fatalf("open: %+v joined=%v err=%v", p, joined, err)
	}
	for _, ev := range []string{"e2", "e2", "e1"} {
		if p, joined, err = b.Open(ctx, plan(ev, 2), time.Hour); err != nil || !joined {
			t.Fatalf("open %s: joined=%v err=%v", ev, joined, err)
		}
	}
	if len(p.Joined) != 1 || p.Joined[0] != "e2" {
		t.Fatalf("joined = %v, want [e2]", p.Joined)
	}
	for _, by := range []string{"mallory", "u-1", " "} {
		if _, err := a.Approve(ctx, p.ID, by, ""); !errors.Is(err, ErrActor) && !errors.Is(err, ErrNoName) {
			t.Errorf("approve as %q: %v, want refused", by, err)
		}
	}
	if p, err = a.Approve(ctx, p.ID, "alice", "ok"); err != nil || p.State != Pending {
		t.Fatalf("first approval: %v %v", p.State, err)
	}
	if _, err = b.Approve(ctx, p.ID, "Alice", ""); !errors.Is(err, ErrVoted) {
		t.Fatalf("second approval by alice: %v, want ErrVoted", err)
	}
	if p, err = b.Approve(ctx, p.ID, "bob", ""); err != nil || p.State != Approved {
		t.Fatalf("second approver: %v %v", p.State, err)
	}
	if got := p.ApprovedBy(); len(got) != 2 || got[0] != "alice" || got[1] != "bob" {
		t.Errorf("approved by %v", got)
	}
	if _, err = a.Approve(ctx, p.ID, "carol", ""); !errors.Is(err, ErrSettled) {
		t.Errorf("approving an approved plan: %v, want ErrSettled", err)
	}
	if _, err = a.Deny(ctx, p.ID, "carol", ""); !errors.Is(err, ErrSettled) {
		t.Errorf("denying an approved plan: %v, want ErrSettled", err)
	}
	// Closed, the same rule and resource opens a new plan. Closing again
	// (a second replica settling it) changes nothing and is no error.
	if _, err = a.Close(ctx, p.ID, Executed); err != nil {
		t.Fatal(err)
	}
	closed, _, err := a.Get(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := a.Close(ctx, p.ID, Denied); err != nil || again.State != Executed || !again.Closed.Equal(closed.Closed) {
		t.Fatalf("closing a closed plan: %+v, %v; want it unchanged (executed, closed at %s) and no error", again, err, closed.Closed)
	}
	if p, joined, err = a.Open(ctx, plan("e3", 1), time.Hour); err != nil || joined || p.State != Pending || len(p.Approvals) != 0 {
		t.Fatalf("after close: %+v joined=%v err=%v", p, joined, err)
	}
}

// TestExpiry: past its TTL a plan can be neither approved nor denied, and
// of two replicas expiring it one does.
func TestExpiry(t *testing.T) {
	t.Parallel()
	a, b, c := newStore(t)
	ctx := t.Context()
	p, _, err := a.Open(ctx, plan("e1", 1), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, changed, err := a.Expire(ctx, p.ID); changed || err != nil {
		t.Fatalf("expired in time: %v %v", changed, err)
	}
	c.add(time.Minute)
	if _, err := a.Approve(ctx, p.ID, "alice", ""); !errors.Is(err, ErrExpired) {
		t.Fatalf("approve after expiry: %v, want ErrExpired", err)
	}
	var n atomic.Int32
	var wg sync.WaitGroup
	for _, s := range []*Store{a, b, a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, changed, err := s.Expire(ctx, p.ID); err != nil {
				t.Error(err)
			} else if changed {
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	if n.Load() != 1 {
		t.Fatalf("%d replicas expired the plan, want 1", n.Load())
	}
}

// TestConcurrentApprovals: approvals racing on one plan all land (CAS
// retries), and exactly one of them makes it approved.
func TestConcurrentApprovals(t *testing.T) {
	t.Parallel()
	a, b, _ := newStore(t)
	ctx := t.Context()
	p, _, err := a.Open(ctx, plan("e1", 3), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var approvedBy atomic.Int32
	var wg sync.WaitGroup
	for i, by := range []string{"u1", "u2", "u3", "u4", "u5"} {
		s := []*Store{a, b}[i%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			q, err := s.Approve(ctx, p.ID, by, "")
			if err == nil && q.State == Approved {
				approvedBy.Add(1)
			} else if err != nil && !errors.Is(err, ErrSettled) {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	p, _, _ = a.Get(ctx, p.ID)
	if approvedBy.Load() != 1 || p.State != Approved || len(p.Approvals) != 3 {
		t.Fatalf("approved by %d calls, state %s, %d approvals; want 1, approved, 3", approvedBy.Load(), p.State, len(p.Approvals))
	}
}

// TestForget: a plan settled before the cutoff is deleted; an open one, or
// one settled at the cutoff, stays.
func TestForget(t *testing.T) {
	t.Parallel()
	a, _, c := newStore(t)
	ctx := t.Context()
	p, _, err := a.Open(ctx, plan("e1", 1), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if gone, err := a.Forget(ctx, p.ID, c.now().Add(time.Hour)); err != nil || gone {
		t.Fatalf("an open plan forgotten: %v, %v", gone, err)
	}
	if _, err := a.Approve(ctx, p.ID, "alice", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Close(ctx, p.ID, Executed); err != nil {
		t.Fatal(err)
	}
	closedAt := c.now()
	if gone, err := a.Forget(ctx, p.ID, closedAt); err != nil || gone {
		t.Fatalf("a plan closed at the cutoff forgotten: %v, %v", gone, err)
	}
	c.add(time.Minute)
	if gone, err := a.Forget(ctx, p.ID, c.now()); err != nil || !gone {
		t.Fatalf("a plan closed before the cutoff kept: %v, %v", gone, err)
	}
	if _, _, err := a.Get(ctx, p.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after Forget: %v, want ErrNotFound", err)
	}
	if plans, err := a.List(ctx); err != nil || len(plans) != 0 {
		t.Fatalf("list after Forget: %v, %v", plans, err)
	}
}
