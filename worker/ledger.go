package worker

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

// The ledger is a JetStream KV bucket that makes each correction happen
// once across retries, redeliveries, crashes and replicas:
//
//   - e.<hash(source, id, rule)>: the work for one event and rule. Claimed
//     with create-if-absent as a lease, renewed while the work runs, and
//     replaced by a done record (kept for the bucket's TTL, longer than the
//     intake keeps anything) when the work succeeded. A redelivery that
//     finds the done record acks with no cloud call; one that finds a live
//     lease waits; an expired lease (its replica crashed) is taken over.
//   - r.<hash(action, resource)>: a lease on one resource, so events about
//     the same resource are handled one at a time across all replicas; as
//     every action reads before it writes, a burst of drift events about
//     one resource makes one write.

// ledgerEntry is the value of a ledger key.
type ledgerEntry struct {
	State   string        `json:"state"` // leased or done
	Owner   string        `json:"owner"`
	Until   time.Time     `json:"until,omitzero"`
	Outcome audit.Outcome `json:"outcome,omitempty"`
	At      time.Time     `json:"at"`
}

// lease is a held ledger key.
type lease struct {
	key   string
	rev   uint64
	owner string
}

// errBusy says another live replica holds the key until the given time.
type errBusy struct {
	until time.Time
	// stale is true when the holder has not renewed for half a lease: it
	// has probably crashed, and waiting for the expiry is the fastest way.
	stale bool
}

func (e *errBusy) Error() string {
	return "held by another replica until " + e.until.Format(time.RFC3339)
}

// doneError says the work was already done, with its outcome.
type doneError struct{ outcome audit.Outcome }

func (e *doneError) Error() string { return "already done: " + string(e.outcome) }

type ledger struct {
	kv    jetstream.KeyValue
	owner string
	ttl   time.Duration // lease length
	now   func() time.Time
}

func newLedger(kv jetstream.KeyValue, leaseTTL time.Duration) *ledger {
	return &ledger{kv: kv, owner: nuid.Next(), ttl: leaseTTL, now: time.Now}
}

func ledgerKey(prefix string, parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return prefix + "." + hex.EncodeToString(h.Sum(nil)[:20])
}

// claim takes the key as a lease. It returns *doneError when the work is
// done and *errBusy when a live lease is held elsewhere.
func (l *ledger) claim(ctx context.Context, key string) (lease, error) {
	owner := l.owner + "." + nuid.Next() // one owner per claim: goroutines of one replica exclude each other too
	val := l.value(ledgerEntry{State: "leased", Owner: owner, Until: l.now().Add(l.ttl)})
	rev, err := l.kv.Create(ctx, key, val)
	if err == nil {
		return lease{key, rev, owner}, nil
	}
	if !errors.Is(err, jetstream.ErrKeyExists) {
		return lease{}, fmt.Errorf("ledger create: %w", err)
	}
	e, err := l.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return l.claim(ctx, key) // released meanwhile
	}
	if err != nil {
		return lease{}, fmt.Errorf("ledger get: %w", err)
	}
	var cur ledgerEntry
	if err := json.Unmarshal(e.Value(), &cur); err != nil {
		return lease{}, fmt.Errorf("ledger entry %s: %w", key, err)
	}
	if cur.State == "done" {
		return lease{}, &doneError{outcome: cur.Outcome}
	}
	if cur.Until.After(l.now()) {
		return lease{}, &errBusy{until: cur.Until, stale: l.now().Sub(cur.At) > l.ttl/2}
	}
	rev, err = l.kv.Update(ctx, key, val, e.Revision()) // take over an expired lease
	if err != nil {
		return lease{}, &errBusy{until: l.now().Add(time.Second)}
	}
	return lease{key, rev, owner}, nil
}

// renew extends a lease; it fails when the lease was taken over.
func (l *ledger) renew(ctx context.Context, ls *lease) error {
	return l.update(ctx, ls, ledgerEntry{State: "leased", Owner: ls.owner, Until: l.now().Add(l.ttl)})
}

// done replaces the lease with the done record.
func (l *ledger) done(ctx context.Context, ls lease, o audit.Outcome) error {
	return l.update(ctx, &ls, ledgerEntry{State: "done", Owner: ls.owner, Outcome: o})
}

// update writes e over the lease by compare-and-set on its revision. A
// mismatch may be our own earlier write whose answer was lost (a timeout
// after the server applied it): when the key still holds this claim's
// lease (the owner is unique per claim), its revision is taken and the
// write tried once more. Otherwise the mismatch stands: someone else wrote.
func (l *ledger) update(ctx context.Context, ls *lease, e ledgerEntry) error {
	rev, err := l.kv.Update(ctx, ls.key, l.value(e), ls.rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		cur, gerr := l.kv.Get(ctx, ls.key)
		var was ledgerEntry
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

// release gives a lease up so the next attempt can claim it at once.
func (l *ledger) release(ctx context.Context, ls lease) {
	_ = l.releaseOwned(ctx, ls)
}

// releaseOwned deletes the lease by compare-and-set on its revision; a
// mismatch against our own renewal whose answer was lost is recognised by
// the owner, as in update. A mismatch it returns means someone else wrote.
func (l *ledger) releaseOwned(ctx context.Context, ls lease) error {
	err := l.kv.Delete(ctx, ls.key, jetstream.LastRevision(ls.rev))
	if !errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		return err
	}
	cur, gerr := l.kv.Get(ctx, ls.key)
	var was ledgerEntry
	if gerr != nil || json.Unmarshal(cur.Value(), &was) != nil || was.Owner != ls.owner || was.State != "leased" {
		return err
	}
	return l.kv.Delete(ctx, ls.key, jetstream.LastRevision(cur.Revision()))
}

func (l *ledger) value(e ledgerEntry) []byte {
	e.At = l.now().UTC()
	b, _ := json.Marshal(e)
	return b
}

// failureKey records when a message first failed, so its dead letter can
// say when the trouble started whatever replica saw it first.
func failureKey(stream string, seq uint64) string {
	return ledgerKey("f", stream, strconv.FormatUint(seq, 10))
}

// noteFailure records the first failure of a message (later ones keep it).
func (w *Worker) noteFailure(ctx context.Context, stream string, seq uint64) {
	b, _ := w.ledger.now().UTC().MarshalText()
	_, _ = w.ledger.kv.Create(ctx, failureKey(stream, seq), b)
}

// firstFailure returns when the message first failed, or now.
func (w *Worker) firstFailure(ctx context.Context, stream string, seq uint64, now time.Time) time.Time {
	e, err := w.ledger.kv.Get(ctx, failureKey(stream, seq))
	if err != nil {
		return now
	}
	var t time.Time
	if t.UnmarshalText(e.Value()) != nil {
		return now
	}
	_ = w.ledger.kv.Delete(ctx, failureKey(stream, seq))
	return t
}
