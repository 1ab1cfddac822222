package coalesce

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxObservations bounds the memory the cache can take; past it the
// expired entries are dropped, then all.
const maxObservations = 100_000

// Observation is a read that found the state compliant.
type Observation struct {
	Mark uint64    // highest intake sequence received before the read began
	At   time.Time // when the read began
}

// Table is one replica's observations and reads in flight.
type Table struct {
	// Probe asks the stream for its last sequence (nil: marks come from
	// received messages only). A probe that has completed is a sound mark
	// for any read that begins after it, so one is reused for probeEvery;
	// reads that begin while one runs wait for its answer (probeTimeout at
	// most), and a failed probe is not retried before probeEvery.
	Probe func(context.Context) (uint64, error)
	// Park, when set, is called when a handler starts waiting and returns
	// the function to call when it stops (the worker starts another
	// handler meanwhile).
	Park func() (unpark func())
	// Waited, when set, counts each wait by what it waited for.
	Waited func(what string)

	ttl      time.Duration // <= 0: off
	now      func() time.Time
	seen     atomic.Uint64 // highest intake sequence received
	probeMu  sync.Mutex
	probedAt time.Time // when the last probe began; under probeMu
	probed   atomic.Uint64

	mu       sync.Mutex
	m        map[string]Observation
	inflight map[string]*read
}

// read is one cloud read in flight; done closes when it has finished.
type read struct {
	mark    uint64 // set by the reader before its read begins
	done    chan struct{}
	waiters int // events waiting for it; under Table.mu
}

// New returns an empty table keeping observations for ttl (<= 0: off).
func New(ttl time.Duration, now func() time.Time) *Table {
	return &Table{ttl: ttl, now: now, m: map[string]Observation{}, inflight: map[string]*read{}}
}

// Received notes that the worker has received the message with sequence
// seq; reads that begin after this cover it.
func (o *Table) Received(seq uint64) {
	for {
		cur := o.seen.Load()
		if seq <= cur || o.seen.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// Key names one action with one set of parameters.
func Key(act string, params map[string]string) string {
	var arr [8]string
	keys, n := arr[:0], len(act)
	for k, v := range params {
		keys = append(keys, k)
		n += len(k) + len(v) + 2
	}
	slices.Sort(keys)
	var b strings.Builder
	b.Grow(n)
	b.WriteString(act)
	for _, k := range keys {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(params[k])
	}
	return b.String()
}

// Start is called before an event's read of key. When answer is set and
// a fresh Compliant Observation covers the event (its read began after
// the event, sequence seq, was stored), it returns that Observation and
// true: no read is needed. While a read of key runs in this process the
// event waits for it, parked (the handler's slot goes to another message):
// that read answers the event if it began after the event was stored;
// otherwise the next read does, and the next read is one read, made by one
// of the events that waited, for all of them. So the reads of a hot
// resource run back to back, and each waiting event is answered by at most
// the second read after it arrived. Otherwise start announces this event's
// read and returns the function that ends it with what it found. More than
// maxWaiters events waiting for one key get ErrCrowded (the caller delays
// the event once), and ctx ending ends the wait with its error.
func (o *Table) Start(ctx context.Context, key string, seq uint64, answer bool) (Observation, bool, func(Found) (Observation, bool), error) {
	answer = answer && o.ttl > 0
	for {
		o.mu.Lock()
		if ob, ok := o.m[key]; answer && ok && ob.Mark >= seq && o.now().Sub(ob.At) < o.ttl {
			o.mu.Unlock()
			return ob, true, nil, nil
		}
		if r := o.inflight[key]; r != nil {
			if r.waiters >= maxWaiters && !waitedBefore(ctx) {
				o.mu.Unlock()
				return Observation{}, false, nil, ErrCrowded
			}
			r.waiters++
			o.mu.Unlock()
			if err := o.Wait(ctx, r.done, "read"); err != nil {
				return Observation{}, false, nil, err
			}
			continue // it may have answered this event; if not, the next read will
		}
		// No read of key runs here: this event's is the next one. Its mark
		// is taken after it is announced and before it begins, so every
		// event received before the mark is answered by it.
		rd := &read{done: make(chan struct{})}
		o.inflight[key] = rd
		o.mu.Unlock()
		rd.mark = o.mark(ctx)
		return Observation{}, false, o.ender(key, rd, o.now()), nil
	}
}

// maxWaiters bounds the events of one replica that wait for one read. An
// event turned away is delayed once: when it comes back (a delivery that
// waited before) it waits whatever the count.
const maxWaiters = 256

type waitedKey struct{}

// waited is what earlier deliveries of the message being handled did.
type waited struct {
	worked bool // one did work (a rule completed) before it waited
}

// WithWaited marks ctx as the handling of a delivery that waited before.
func WithWaited(ctx context.Context, worked bool) context.Context {
	return context.WithValue(ctx, waitedKey{}, waited{worked: worked})
}

// waitedBefore reports whether ctx is the handling of a delivery that
// waited before.
func waitedBefore(ctx context.Context) bool {
	_, ok := ctx.Value(waitedKey{}).(waited)
	return ok
}

// WorkedBefore reports whether an earlier delivery of the message did work
// before it waited: its rules' outcomes are in the ledger, not to be
// answered by an Observation.
func WorkedBefore(ctx context.Context) bool {
	w, _ := ctx.Value(waitedKey{}).(waited)
	return w.worked
}

// ErrCrowded says too many events wait for a read of one resource.
var ErrCrowded = errors.New("too many events wait for a read of this resource")

// Wait waits for done or ctx (what it waits for, read or lease, is
// counted unless empty), parked: the handler's slot is free for
// another message meanwhile.
func (o *Table) Wait(ctx context.Context, done <-chan struct{}, what string) error {
	if o.Waited != nil && what != "" {
		o.Waited(what)
	}
	if o.Park != nil {
		defer o.Park()()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ender returns the function that ends the read rd of key, begun at at.
// When the read found the key Compliant it returns the Observation it
// made, and true.
func (o *Table) ender(key string, rd *read, at time.Time) func(Found) (Observation, bool) {
	return func(found Found) (Observation, bool) {
		ob := Observation{Mark: rd.mark, At: at}
		o.mu.Lock()
		if o.inflight[key] == rd {
			delete(o.inflight, key)
		}
		switch found {
		case Compliant:
			if cur, ok := o.m[key]; !ok || cur.Mark <= rd.mark {
				o.store(key, ob)
			}
		case Drifted:
			delete(o.m, key) // an older Observation says nothing now
		}
		o.mu.Unlock()
		close(rd.done)
		return ob, found == Compliant
	}
}

// Adopt keeps an Observation another replica made (shared through the
// ledger, see share.go), so that the events waiting here that it covers
// are answered by it.
func (o *Table) Adopt(key string, ob Observation) {
	if o.ttl <= 0 {
		return
	}
	o.mu.Lock()
	if cur, ok := o.m[key]; !ok || cur.Mark < ob.Mark {
		o.store(key, ob)
	}
	o.mu.Unlock()
}

// probeEvery is how long a stream probe is reused (and how often a
// failing stream is asked at most); probeTimeout bounds one probe.
const (
	probeEvery   = 50 * time.Millisecond
	probeTimeout = 500 * time.Millisecond
)

// mark is the highest sequence known to be stored now.
func (o *Table) mark(ctx context.Context) uint64 {
	seen := o.seen.Load()
	if o.Probe == nil {
		return seen
	}
	o.probeMu.Lock()
	if now := o.now(); now.Sub(o.probedAt) >= probeEvery {
		o.probedAt = now
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		if last, err := o.Probe(pctx); err == nil && last > o.probed.Load() {
			o.probed.Store(last)
		}
		cancel()
	}
	o.probeMu.Unlock()
	return max(seen, o.probed.Load()) // an older probe is still sound
}

// Found is what a read found.
type Found int

const (
	NotRead   Found = iota // the read did not happen (or failed): nothing learned
	Drifted                // the state was not as the action wants it
	Compliant              // the state was as wanted, or was written and verified
)

// store adds an Observation; o.mu is held.
func (o *Table) store(key string, ob Observation) {
	if len(o.m) >= maxObservations {
		now := o.now()
		for k, v := range o.m {
			if now.Sub(v.At) >= o.ttl {
				delete(o.m, k)
			}
		}
		if len(o.m) >= maxObservations*9/10 {
			clear(o.m) // mostly fresh: start over rather than sweep at every store
		}
	}
	o.m[key] = ob
}
