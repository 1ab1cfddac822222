package approval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/worker/kvcas"
)

// Errors a change can be refused with; match them with errors.Is.
var (
	ErrNotFound = errors.New("no such approval")
	ErrSettled  = errors.New("the approval is no longer pending")
	ErrExpired  = errors.New("the approval has expired")
	ErrActor    = errors.New("the principal who caused the drift cannot approve its remediation")
	ErrVoted    = errors.New("already approved by this approver")
	ErrNoName   = errors.New("an approver's name is required (--as NAME)")
)

// Store keeps plans in a key-value bucket.
type Store struct {
	kv  jetstream.KeyValue
	now func() time.Time
}

// NewStore returns a store on the bucket; now is the clock (nil: time.Now).
func NewStore(kv jetstream.KeyValue, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{kv: kv, now: now}
}

// casTries bounds the compare-and-set retries of one change.
const casTries = 20

// Open stores p as a new pending plan, or, when a plan for the same rule
// and resource is still open, adds p's event to it (joined). A closed plan
// under the same id is replaced.
func (s *Store) Open(ctx context.Context, p Plan, ttl time.Duration) (Plan, bool, error) {
	now := s.now().UTC()
	p.State, p.Created, p.Changed, p.Expires = Pending, now, now, now.Add(ttl)
	var out Plan
	var joined bool
	err := kvcas.Update(ctx, s.kv, p.ID, casTries, func(b []byte, exists bool) ([]byte, bool, error) {
		if !exists {
			out, joined = p, false
			return marshal(p)
		}
		cur, err := decode(p.ID, b)
		switch {
		case err != nil:
			return nil, false, err
		case !cur.Closed.IsZero(): // replaced
			out, joined = p, false
			return marshal(p)
		case cur.Event.ID == p.Event.ID && cur.Event.Source == p.Event.Source || contains(cur.Joined, p.Event.ID):
			out, joined = cur, true // a redelivery of an event already in the plan
			return nil, false, nil
		}
		cur.Joined = append(cur.Joined, p.Event.ID)
		cur.Changed = now
		out, joined = cur, true
		return marshal(cur)
	})
	if err != nil {
		return Plan{}, false, err
	}
	return out, joined, nil
}

// Get returns the plan and its revision.
func (s *Store) Get(ctx context.Context, id string) (Plan, uint64, error) {
	e, err := s.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return Plan{}, 0, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Plan{}, 0, fmt.Errorf("approval %s: read: %w", id, err)
	}
	p, err := decode(id, e.Value())
	if err != nil {
		return Plan{}, 0, err
	}
	return p, e.Revision(), nil
}

func decode(id string, b []byte) (Plan, error) {
	var p Plan
	if err := json.Unmarshal(b, &p); err != nil {
		return Plan{}, fmt.Errorf("approval %s: stored plan is not valid JSON: %w", id, err)
	}
	return p, nil
}

func marshal(p Plan) ([]byte, bool, error) {
	b, err := json.Marshal(p)
	return b, true, err
}

// List returns every plan, oldest first.
func (s *Store) List(ctx context.Context) ([]Plan, error) {
	keys, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("approvals: list: %w", err)
	}
	var out []Plan
	for k := range keys.Keys() {
		p, _, err := s.Get(ctx, k)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Created.Before(out[j].Created) })
	return out, nil
}

// Approve adds by's approval; the plan becomes approved once it has the
// approvers it needs. Refused: no name, the actor, a second vote by the
// same person, a plan that is not pending or is past its expiry.
func (s *Store) Approve(ctx context.Context, id, by, comment string) (Plan, error) {
	by = strings.TrimSpace(by)
	return s.update(ctx, id, func(p *Plan, now time.Time) error {
		if err := s.votable(p, by, now); err != nil {
			return err
		}
		if p.isActor(by) {
			return fmt.Errorf("%w: %s made the change (actor %s %s)", ErrActor, by, p.Actor.Type, firstOf(p.Actor.Name, p.Actor.ID))
		}
		if p.votedBy(by) {
			return fmt.Errorf("%w: %s", ErrVoted, by)
		}
		p.Approvals = append(p.Approvals, Vote{By: by, Comment: comment, At: now})
		if len(p.Approvals) >= p.Approvers {
			p.State = Approved
		}
		return nil
	})
}

// Deny denies the plan: it will never run.
func (s *Store) Deny(ctx context.Context, id, by, comment string) (Plan, error) {
	by = strings.TrimSpace(by)
	return s.update(ctx, id, func(p *Plan, now time.Time) error {
		if err := s.votable(p, by, now); err != nil {
			return err
		}
		p.State, p.Denial = Denied, &Vote{By: by, Comment: comment, At: now}
		return nil
	})
}

// Expire marks a pending plan past its expiry as expired; changed is
// false when it was not (still in time, or already settled), so of the
// replicas that try, one does it.
func (s *Store) Expire(ctx context.Context, id string) (Plan, bool, error) {
	changed := false
	p, err := s.update(ctx, id, func(p *Plan, now time.Time) error {
		changed = false // a try that lost its compare-and-set changed nothing
		if p.State != Pending || now.Before(p.Expires) {
			return errUnchanged
		}
		p.State, changed = Expired, true
		return nil
	})
	if errors.Is(err, errUnchanged) {
		err = nil
	}
	return p, changed, err
}

// Close records that a worker settled the plan (executed, denied or
// expired recorded). state, when set, becomes the plan's state (Executed).
// Closing a closed plan (another replica settled it too) changes nothing
// and is no error.
func (s *Store) Close(ctx context.Context, id string, state State) (Plan, error) {
	p, err := s.update(ctx, id, func(p *Plan, now time.Time) error {
		if !p.Closed.IsZero() {
			return errUnchanged
		}
		if state != "" {
			p.State = state
		}
		p.Closed = now
		return nil
	})
	if errors.Is(err, errUnchanged) {
		err = nil
	}
	return p, err
}

var errUnchanged = errors.New("unchanged")

// Forget deletes the plan when it was closed before cutoff, by
// compare-and-set: a plan reopened meanwhile stays. It reports whether it
// deleted it.
func (s *Store) Forget(ctx context.Context, id string, cutoff time.Time) (bool, error) {
	p, rev, err := s.Get(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	case p.Closed.IsZero() || !p.Closed.Before(cutoff):
		return false, nil
	}
	err = s.kv.Delete(ctx, id, jetstream.LastRevision(rev))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("approval %s: forget: %w", id, err)
	}
	return true, nil
}

func (s *Store) votable(p *Plan, by string, now time.Time) error {
	switch {
	case by == "":
		return ErrNoName
	case p.State == Pending && !now.Before(p.Expires):
		return fmt.Errorf("%w: %s expired at %s", ErrExpired, p.ID, p.Expires.Format(time.RFC3339))
	case p.State == Expired:
		return fmt.Errorf("%w: %s expired at %s", ErrExpired, p.ID, p.Expires.Format(time.RFC3339))
	case p.State != Pending:
		return fmt.Errorf("%w: %s is %s", ErrSettled, p.ID, p.State)
	}
	return nil
}

// update applies change to the plan by compare-and-set, reading again
// after a conflict. An error from change (errUnchanged among them) returns
// the plan as read, and writes nothing.
func (s *Store) update(ctx context.Context, id string, change func(*Plan, time.Time) error) (Plan, error) {
	var p Plan
	var refused error // change's own error, returned with the plan
	err := kvcas.Update(ctx, s.kv, id, casTries, func(b []byte, exists bool) ([]byte, bool, error) {
		if !exists {
			return nil, false, fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		var err error
		if p, err = decode(id, b); err != nil {
			return nil, false, err
		}
		now := s.now().UTC()
		if refused = change(&p, now); refused != nil {
			return nil, false, refused
		}
		p.Changed = now
		return marshal(p)
	})
	switch {
	case err == nil:
		return p, nil
	case refused != nil && err == refused:
		return p, err
	}
	return Plan{}, err
}

func contains(ss []string, s string) bool {
	for _, v := range ss {
		if v == s {
			return true
		}
	}
	return false
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
