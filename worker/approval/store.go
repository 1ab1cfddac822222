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
	for range casTries {
		cur, rev, err := s.Get(ctx, p.ID)
		switch {
		case errors.Is(err, ErrNotFound):
			b, _ := json.Marshal(p)
			if _, err := s.kv.Create(ctx, p.ID, b); err == nil {
				return p, false, nil
			} else if !errors.Is(err, jetstream.ErrKeyExists) {
				return Plan{}, false, fmt.Errorf("approval %s: create: %w", p.ID, err)
			}
			continue // created meanwhile: join it
		case err != nil:
			return Plan{}, false, err
		case !cur.Closed.IsZero():
			b, _ := json.Marshal(p)
			if _, err := s.kv.Update(ctx, p.ID, b, rev); err == nil {
				return p, false, nil
			} else if !isConflict(err) {
				return Plan{}, false, fmt.Errorf("approval %s: replace: %w", p.ID, err)
			}
			continue
		}
		if cur.Event.ID == p.Event.ID && cur.Event.Source == p.Event.Source || contains(cur.Joined, p.Event.ID) {
			return cur, true, nil // a redelivery of an event already in the plan
		}
		cur.Joined = append(cur.Joined, p.Event.ID)
		cur.Changed = now
		if err := s.put(ctx, cur, rev); err == nil {
			return cur, true, nil
		} else if !isConflict(err) {
			return Plan{}, false, err
		}
	}
	return Plan{}, false, fmt.Errorf("approval %s: %d compare-and-set conflicts in a row", p.ID, casTries)
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
	var p Plan
	if err := json.Unmarshal(e.Value(), &p); err != nil {
		return Plan{}, 0, fmt.Errorf("approval %s: stored plan is not valid JSON: %w", id, err)
	}
	return p, e.Revision(), nil
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
func (s *Store) Close(ctx context.Context, id string, state State) (Plan, error) {
	return s.update(ctx, id, func(p *Plan, now time.Time) error {
		if !p.Closed.IsZero() {
			return errUnchanged
		}
		if state != "" {
			p.State = state
		}
		p.Closed = now
		return nil
	})
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
// after a conflict. errUnchanged from change returns the plan as read.
func (s *Store) update(ctx context.Context, id string, change func(*Plan, time.Time) error) (Plan, error) {
	for range casTries {
		p, rev, err := s.Get(ctx, id)
		if err != nil {
			return Plan{}, err
		}
		now := s.now().UTC()
		if err := change(&p, now); err != nil {
			return p, err
		}
		p.Changed = now
		if err := s.put(ctx, p, rev); err == nil {
			return p, nil
		} else if !isConflict(err) {
			return Plan{}, err
		}
	}
	return Plan{}, fmt.Errorf("approval %s: %d compare-and-set conflicts in a row", id, casTries)
}

func (s *Store) put(ctx context.Context, p Plan, rev uint64) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	if _, err := s.kv.Update(ctx, p.ID, b, rev); err != nil {
		if isConflict(err) {
			return err
		}
		return fmt.Errorf("approval %s: write: %w", p.ID, err)
	}
	return nil
}

// isConflict: the revision moved on (another writer came first).
func isConflict(err error) bool {
	var ae *jetstream.APIError
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.As(err, &ae) && ae.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence
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
