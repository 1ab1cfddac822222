package ledger

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/remediator/remediator/worker/audit"
)

// entry is the value of a lease or done key.
type entry struct {
	State   string        `json:"state"` // leased or done
	Owner   string        `json:"owner"`
	Until   time.Time     `json:"until,omitzero"`
	Outcome audit.Outcome `json:"outcome,omitempty"`
	At      time.Time     `json:"at"`
}

// Lease is a held ledger key: its revision changes with every renewal.
type Lease struct {
	key   string
	rev   uint64
	owner string
}

// Key is the lease's ledger key.
func (ls Lease) Key() string { return ls.key }

// BusyError says another live claim holds the key until Until.
type BusyError struct {
	Until time.Time
	// Stale is true when the holder has not renewed for half a lease: it
	// has probably crashed, and waiting for the expiry is the fastest way.
	Stale bool
}

func (e *BusyError) Error() string {
	return "held by another replica until " + e.Until.Format(time.RFC3339)
}

// DoneError says the work was already done, with its outcome.
type DoneError struct{ Outcome audit.Outcome }

func (e *DoneError) Error() string { return "already done: " + string(e.Outcome) }

// Ledger is the idempotency ledger of one replica.
type Ledger struct {
	kv    jetstream.KeyValue
	owner string
	ttl   time.Duration // lease length
	now   func() time.Time
}

// New returns the ledger kept in kv, with leases of leaseTTL.
func New(kv jetstream.KeyValue, leaseTTL time.Duration) *Ledger {
	return &Ledger{kv: kv, owner: nuid.Next(), ttl: leaseTTL, now: time.Now}
}

// TTL is the length of a lease.
func (l *Ledger) TTL() time.Duration { return l.ttl }

// Now is the ledger's clock.
func (l *Ledger) Now() time.Time { return l.now() }

// EventKey is the key of the work for one event and rule.
func EventKey(source, id, rule string) string { return Key("e", source, id, rule) }

// ResourceKey is the key of the lease on one resource of an action.
func ResourceKey(action, resource string) string { return Key("r", action, resource) }

// Key is the ledger key prefix.<hash(parts)>; the prefixes in use are
// e, r, f and w (this package) and o (shared observations).
func Key(prefix string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return prefix + "." + hex.EncodeToString(h.Sum(nil)[:20])
}

// Claim takes the key as a lease. It returns *DoneError when the work is
// done and *BusyError when a live lease is held elsewhere.
func (l *Ledger) Claim(ctx context.Context, key string) (Lease, error) {
	owner := l.owner + "." + nuid.Next() // one owner per claim: goroutines of one replica exclude each other too
	val := l.value(entry{State: "leased", Owner: owner, Until: l.now().Add(l.ttl)})
	rev, err := l.kv.Create(ctx, key, val)
	if err == nil {
		return Lease{key, rev, owner}, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return Lease{}, fmt.Errorf("ledger create: %w", err)
	}
	e, err := l.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return l.Claim(ctx, key) // released meanwhile
	}
	if err != nil {
		return Lease{}, fmt.Errorf("ledger get: %w", err)
	}
	var cur entry
	if err := json.Unmarshal(e.Value(), &cur); err != nil {
		return Lease{}, fmt.Errorf("ledger entry %s: %w", key, err)
	}
	if cur.State == "done" {
		return Lease{}, &DoneError{Outcome: cur.Outcome}
	}
	if cur.Until.After(l.now()) {
		return Lease{}, &BusyError{Until: cur.Until, Stale: l.now().Sub(cur.At) > l.ttl/2}
	}
	rev, err = l.kv.Update(ctx, key, val, e.Revision()) // take over an expired lease
	if err != nil {
		return Lease{}, &BusyError{Until: l.now().Add(time.Second)}
	}
	return Lease{key, rev, owner}, nil
}

// Renew extends a lease; it fails with jetstream.ErrKeyRevisionMismatch
// when the lease was taken over.
func (l *Ledger) Renew(ctx context.Context, ls *Lease) error {
	return l.update(ctx, ls, entry{State: "leased", Owner: ls.owner, Until: l.now().Add(l.ttl)})
}

// Done replaces the lease with the done record of outcome o.
func (l *Ledger) Done(ctx context.Context, ls Lease, o audit.Outcome) error {
	return l.update(ctx, &ls, entry{State: "done", Owner: ls.owner, Outcome: o})
}

// update writes e over the lease by compare-and-set on its revision. A
// mismatch may be our own earlier write whose answer was lost (a timeout
// after the server applied it): when the key still holds this claim's
// lease (the owner is unique per claim), its revision is taken and the
// write tried once more. Otherwise the mismatch stands: someone else wrote.
func (l *Ledger) update(ctx context.Context, ls *Lease, e entry) error {
	rev, err := l.kv.Update(ctx, ls.key, l.value(e), ls.rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		cur, gerr := l.kv.Get(ctx, ls.key)
		var was entry
		if gerr != nil || json.Unmarshal(cur.Value(), &was) != nil || was.Owner != ls.owner || was.State != "leased" {
			return err
		}
		ls.rev = cur.Revision()
		rev, err = l.kv.Update(ctx, ls.key, l.value(e), ls.rev)
	}
	if err != nil {
		return err
	}
	ls.rev = rev
	return nil
}

// Release gives a lease up so the next attempt can claim it at once.
func (l *Ledger) Release(ctx context.Context, ls Lease) {
	_ = l.ReleaseOwned(ctx, ls)
}

// ReleaseOwned deletes the lease by compare-and-set on its revision; a
// mismatch against our own renewal whose answer was lost is recognised by
// the owner, as in update. A mismatch it returns means someone else wrote.
func (l *Ledger) ReleaseOwned(ctx context.Context, ls Lease) error {
	err := l.kv.Delete(ctx, ls.key, jetstream.LastRevision(ls.rev))
	if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return err
	}
	cur, gerr := l.kv.Get(ctx, ls.key)
	var was entry
	if gerr != nil || json.Unmarshal(cur.Value(), &was) != nil || was.Owner != ls.owner || was.State != "leased" {
		return err
	}
	return l.kv.Delete(ctx, ls.key, jetstream.LastRevision(cur.Revision()))
}

func (l *Ledger) value(e entry) []byte {
	e.At = l.now().UTC()
	b, _ := json.Marshal(e)
	return b
}

// failureKey records when a message first failed, so its dead letter can
// say when the trouble started whatever replica saw it first.
func failureKey(stream string, seq uint64) string {
	return Key("f", stream, strconv.FormatUint(seq, 10))
}

// NoteFailure records the first failure of a message (later ones keep it).
func (l *Ledger) NoteFailure(ctx context.Context, stream string, seq uint64) {
	b, _ := l.now().UTC().MarshalText()
	_, _ = l.kv.Create(ctx, failureKey(stream, seq), b)
}

// FirstFailure returns when the message first failed, or now, and forgets it.
func (l *Ledger) FirstFailure(ctx context.Context, stream string, seq uint64, now time.Time) time.Time {
	e, err := l.kv.Get(ctx, failureKey(stream, seq))
	if err != nil {
		return now
	}
	var t time.Time
	if t.UnmarshalText(e.Value()) != nil {
		return now
	}
	_ = l.kv.Delete(ctx, failureKey(stream, seq))
	return t
}

// Put stores value at key, unconditionally (shared observations, under o.).
func (l *Ledger) Put(ctx context.Context, key string, value []byte) error {
	_, err := l.kv.Put(ctx, key, value)
	return err
}

// Get reads the value at key.
func (l *Ledger) Get(ctx context.Context, key string) ([]byte, error) {
	e, err := l.kv.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return e.Value(), nil
}
