package guard

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/kvcas"
)

// The shared windows live in the limits bucket, one key per limited rule
// (limit.<rule>, limit._global for the global limit). Every change is a
// compare-and-set on the key's revision, so a check-and-take is atomic
// across replicas. The changes one process makes to one key are combined:
// while a compare-and-set is on the wire, the changes that arrive queue
// up and go in the next one, so a burst of events costs a few round trips
// and the replicas, not the goroutines, are what contend.

const (
	limitTries   = 16              // compare-and-set attempts per batch, then busy
	limitTimeout = 5 * time.Second // one batch's KV calls
)

// errLimitContended is a batch that lost every compare-and-set: other
// replicas changed the key each time. The event waits (busy).
var errLimitContended = errors.New("limit window contended: compare-and-set lost every attempt")

// limiter enforces the write limits over the shared windows.
type limiter struct {
	kv    jetstream.KeyValue
	ttl   time.Duration // a slot's life unless renewed (the ack wait)
	owner string        // prefix of this process's slot ids
	seq   atomic.Uint64
	log   *zap.Logger
	now   func() time.Time
	mu    sync.Mutex
	keys  map[string]*limitQueue
}

// init sets the limiter up; ttl is how long a slot outlives a crash of
// its holder.
func (l *limiter) init(kv jetstream.KeyValue, ttl time.Duration, log *zap.Logger) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	l.kv, l.ttl, l.owner, l.log, l.now = kv, ttl, hex.EncodeToString(b[:]), log, time.Now
	l.keys = map[string]*limitQueue{}
}

// LimitKey is the limits-bucket key of a rule's write window.
func LimitKey(rule string) string {
	// The same character mapping as the circuit keys, so both name a rule
	// alike.
	return "limit." + strings.TrimPrefix(CircuitKey(rule), "circuit.")
}

// slot is a reservation this process holds, renewed until it ends.
type slot struct {
	key, id string
	stop    func()
}

// limitOp is one change to a window. apply is re-run on the fresh value
// when a compare-and-set loses; it reports whether it changed the window.
type limitOp struct {
	apply func(w *window, now time.Time) bool
	done  chan error
}

type limitQueue struct {
	mu      sync.Mutex
	ops     []*limitOp
	running bool
}

// take reserves a slot in the rule's window. When the writes fill it, it
// returns how long until one leaves; when slots in flight fill it, busy.
// A rule without limits takes nothing and touches no KV. err is the
// bucket failing (the caller fails closed).
func (l *limiter) take(r *rules.Rule, now time.Time) (s *slot, wait time.Duration, busy bool, err error) {
	if r.Limit == nil {
		return nil, 0, false, nil
	}
	id := l.owner + "-" + strconv.FormatUint(l.seq.Add(1), 36)
	var taken bool
	err = l.do(LimitKey(r.Name), func(w *window, _ time.Time) bool {
		// The event's time, not the batch's: a queued take checks a window
		// no later than its event saw, which can only count more writes.
		trimmed := w.trim(r.Limit.Per, now)
		wait, busy, taken = w.take(id, r.Limit.Writes, r.Limit.Per, l.ttl, now)
		return trimmed || taken
	})
	if errors.Is(err, errLimitContended) {
		return nil, 0, true, nil
	}
	if err != nil || !taken {
		return nil, wait, busy, err
	}
	s = &slot{key: LimitKey(r.Name), id: id}
	s.stop = l.renewEvery(s, l.ttl/3)
	return s, 0, false, nil
}

// confirm turns the slot into a write at at. The write happened, so it
// keeps trying (renewing the slot meanwhile) for as long as a slot lives;
// after that the write goes uncounted, which it logs.
func (l *limiter) confirm(s *slot, at time.Time) {
	if s == nil {
		return
	}
	defer s.stop()
	deadline := l.now().Add(l.ttl)
	for {
		err := l.do(s.key, func(w *window, _ time.Time) bool { w.confirm(s.id, at); return true })
		if err == nil {
			return
		}
		if !l.now().Before(deadline) {
			l.log.Error("limit_confirm_failed", zap.String("key", s.key), zap.String("slot", s.id), zap.Error(err))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// release hands back a slot that was not used for a write. When the
// bucket cannot be reached the slot expires on its own.
func (l *limiter) release(s *slot) {
	if s == nil {
		return
	}
	s.stop()
	if err := l.do(s.key, func(w *window, _ time.Time) bool { return w.release(s.id) }); err != nil {
		l.log.Warn("limit_release_failed", zap.String("key", s.key), zap.String("slot", s.id), zap.Error(err))
	}
}

// reset forgets a rule's writes after an operator resumed its circuit;
// rev is the revision of the circuit key's deletion, so of the replicas
// that all see the resume only the first resets.
func (l *limiter) reset(rule string, rev uint64) error {
	return l.do(LimitKey(rule), func(w *window, _ time.Time) bool { return w.reset(rev) })
}

// renewEvery keeps the slot alive while its event runs (a cloud call may
// outlast the ack wait: the event is kept in progress meanwhile).
func (l *limiter) renewEvery(s *slot, every time.Duration) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	var mu sync.Mutex
	stopped := false
	var t *time.Timer
	t = time.AfterFunc(every, func() {
		found := true
		err := l.do(s.key, func(w *window, now time.Time) bool { found = w.renew(s.id, now.Add(l.ttl)); return found })
		switch {
		case err != nil:
			l.log.Warn("limit_renew_failed", zap.String("key", s.key), zap.Error(err))
		case !found: // expired while this process could not renew it (frozen?)
			l.log.Warn("limit_slot_lost", zap.String("key", s.key), zap.String("slot", s.id))
		}
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			t.Reset(every)
		}
	})
	return func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		t.Stop()
	}
}

// do applies one change to the key and returns when it is stored (or
// failed). The first caller on an idle key starts a goroutine that stores
// the queued changes batch by batch until the queue is empty.
func (l *limiter) do(key string, apply func(*window, time.Time) bool) error {
	l.mu.Lock()
	q := l.keys[key]
	if q == nil {
		q = &limitQueue{}
		l.keys[key] = q
	}
	l.mu.Unlock()
	op := &limitOp{apply: apply, done: make(chan error, 1)}
	q.mu.Lock()
	q.ops = append(q.ops, op)
	if !q.running {
		q.running = true
		go l.drain(key, q)
	}
	q.mu.Unlock()
	return <-op.done
}

func (l *limiter) drain(key string, q *limitQueue) {
	for {
		q.mu.Lock()
		batch := q.ops
		q.ops = nil
		if len(batch) == 0 {
			q.running = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		err := l.commit(key, batch)
		for _, op := range batch {
			op.done <- err
		}
	}
}

// commit reads the key, applies the batch and writes it back if it
// changed, compare-and-set on the revision read; it retries from the read
// when another replica wrote first (kvcas, which also jitters the pause
// between tries so the replicas do not collide in step).
func (l *limiter) commit(key string, batch []*limitOp) error {
	ctx, cancel := context.WithTimeout(context.Background(), limitTimeout)
	defer cancel()
	err := kvcas.Update(ctx, l.kv, key, limitTries, func(cur []byte, exists bool) ([]byte, bool, error) {
		var w window
		if exists {
			if err := json.Unmarshal(cur, &w); err != nil {
				return nil, false, fmt.Errorf("limit window %s: %w", key, err) // fail closed, never guess the count
			}
		}
		now, changed := l.now(), false
		for _, op := range batch {
			changed = op.apply(&w, now) || changed
		}
		if !changed {
			return nil, false, nil
		}
		b, err := json.Marshal(&w)
		return b, true, err
	})
	if errors.Is(err, kvcas.ErrContended) {
		return errLimitContended
	}
	return err
}
