package worker

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Coalescing: many events about one resource need one read.
//
// An observation is a read by this process that found one action, with one
// set of parameters, compliant (or wrote and then verified it). Before the
// read began, the worker knew that the intake stream held sequence mark:
// it had received that message, or the stream had reported it as its last
// sequence. Every message at or before mark was stored before the read
// began, so the change it reports happened before the read: the read saw
// the state that change left, or a later one. An event with sequence <=
// mark is therefore already answered, with no cloud call and no ledger round
// trip. The rule uses only the stream's own order, no clocks. An event
// stored after mark is never covered: it may report a newer drift.
//
// Observations are kept for CoalesceFor and only in memory; each replica
// keeps its own. A read in flight is shared: an event that arrives while
// another goroutine reads the same thing waits for that read and is covered
// by it if the read began after the event was received.

// maxObservations bounds the memory the cache can take; past it the
// expired entries are dropped, then all.
const maxObservations = 100_000

type observation struct {
	mark uint64    // highest intake sequence received before the read began
	at   time.Time // when the read began
}

type observations struct {
	ttl  time.Duration // <= 0: off
	now  func() time.Time
	seen atomic.Uint64 // highest intake sequence received
	// probe asks the stream for its last sequence (nil: marks come from
	// received messages only). A probe that has completed is a sound mark
	// for any read that begins after it, so one is reused for probeEvery;
	// reads that begin while one runs wait for its answer (probeTimeout at
	// most), and a failed probe is not retried before probeEvery.
	probe    func(context.Context) (uint64, error)
	probeMu  sync.Mutex
	probedAt time.Time // when the last probe began; under probeMu
	probed   atomic.Uint64

	mu       sync.Mutex
	m        map[string]observation
	inflight map[string]*read

	// park, when set, is called when a handler starts waiting and returns
	// the function to call when it stops (see Worker.park).
	park func() (unpark func())
	// waited, when set, counts each wait by what it waited for.
	waited func(what string)
}

// read is one cloud read in flight; done closes when it has finished.
type read struct {
	mark    uint64 // set by the reader before its read begins
	done    chan struct{}
	waiters int // events waiting for it; under observations.mu
}

func newObservations(ttl time.Duration, now func() time.Time) *observations {
	return &observations{ttl: ttl, now: now, m: map[string]observation{}, inflight: map[string]*read{}}
}

// received notes that the worker has received the message with sequence
// seq; reads that begin after this cover it.
func (o *observations) received(seq uint64) {
	for {
		cur := o.seen.Load()
		if seq <= cur || o.seen.CompareAndSwap(cur, seq) {
			return
		}
	}
}

// observationKey names one action with one set of parameters.
func observationKey(act string, params map[string]string) string {
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

// start is called before an event's read of key. When answer is set and
// a fresh compliant observation covers the event (its read began after
// the event, sequence seq, was stored), it returns that observation and
// true: no read is needed. While a read of key runs in this process the
// event waits for it, parked (the handler's slot goes to another message):
// that read answers the event if it began after the event was stored;
// otherwise the next read does, and the next read is one read, made by one
// of the events that waited, for all of them. So the reads of a hot
// resource run back to back, and each waiting event is answered by at most
// the second read after it arrived. Otherwise start announces this event's
// read and returns the function that ends it with what it found. More than
// maxWaiters events waiting for one key get errCrowded (the caller delays
// the event once), and ctx ending ends the wait with its error.
func (o *observations) start(ctx context.Context, key string, seq uint64, answer bool) (observation, bool, func(observed) (observation, bool), error) {
	answer = answer && o.ttl > 0
	for {
		o.mu.Lock()
		if ob, ok := o.m[key]; answer && ok && ob.mark >= seq && o.now().Sub(ob.at) < o.ttl {
			o.mu.Unlock()
			return ob, true, nil, nil
		}
		if r := o.inflight[key]; r != nil {
			if r.waiters >= maxWaiters && !waitedBefore(ctx) {
				o.mu.Unlock()
				return observation{}, false, nil, errCrowded
			}
			r.waiters++
			o.mu.Unlock()
			if err := o.wait(ctx, r.done, "read"); err != nil {
				return observation{}, false, nil, err
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
		return observation{}, false, o.ender(key, rd, o.now()), nil
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

// withWaited marks ctx as the handling of a delivery that waited before.
func withWaited(ctx context.Context, worked bool) context.Context {
	return context.WithValue(ctx, waitedKey{}, waited{worked: worked})
}

func waitedBefore(ctx context.Context) bool {
	_, ok := ctx.Value(waitedKey{}).(waited)
	return ok
}

// workedBefore reports whether an earlier delivery of the message did work
// before it waited: its rules' outcomes are in the ledger, not to be
// answered by an observation.
func workedBefore(ctx context.Context) bool {
	w, _ := ctx.Value(waitedKey{}).(waited)
	return w.worked
}

// errCrowded says too many events wait for a read of one resource.
var errCrowded = errors.New("too many events wait for a read of this resource")

// wait waits for done or ctx (what it waits for, read or lease, is
// counted unless empty), parked: the handler's slot is free for
// another message meanwhile.
func (o *observations) wait(ctx context.Context, done <-chan struct{}, what string) error {
	if o.waited != nil && what != "" {
		o.waited(what)
	}
	if o.park != nil {
		defer o.park()()
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// ender returns the function that ends the read rd of key, begun at at.
// When the read found the key compliant it returns the observation it
// made, and true.
func (o *observations) ender(key string, rd *read, at time.Time) func(observed) (observation, bool) {
	return func(found observed) (observation, bool) {
		ob := observation{mark: rd.mark, at: at}
		o.mu.Lock()
		if o.inflight[key] == rd {
			delete(o.inflight, key)
		}
		switch found {
		case compliant:
			if cur, ok := o.m[key]; !ok || cur.mark <= rd.mark {
				o.store(key, ob)
			}
		case drifted:
			delete(o.m, key) // an older observation says nothing now
		}
		o.mu.Unlock()
		close(rd.done)
		return ob, found == compliant
	}
}

// adopt keeps an observation another replica made (shared through the
// ledger, see share.go), so that the events waiting here that it covers
// are answered by it.
func (o *observations) adopt(key string, ob observation) {
	if o.ttl <= 0 {
		return
	}
	o.mu.Lock()
	if cur, ok := o.m[key]; !ok || cur.mark < ob.mark {
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
func (o *observations) mark(ctx context.Context) uint64 {
	seen := o.seen.Load()
	if o.probe == nil {
		return seen
	}
	o.probeMu.Lock()
	if now := o.now(); now.Sub(o.probedAt) >= probeEvery {
		o.probedAt = now
		pctx, cancel := context.WithTimeout(ctx, probeTimeout)
		if last, err := o.probe(pctx); err == nil && last > o.probed.Load() {
			o.probed.Store(last)
		}
		cancel()
	}
	o.probeMu.Unlock()
	return max(seen, o.probed.Load()) // an older probe is still sound
}

// observed is what a read found.
type observed int

const (
	notRead   observed = iota // the read did not happen (or failed): nothing learned
	drifted                   // the state was not as the action wants it
	compliant                 // the state was as wanted, or was written and verified
)

// store adds an observation; o.mu is held.
func (o *observations) store(key string, ob observation) {
	if len(o.m) >= maxObservations {
		now := o.now()
		for k, v := range o.m {
			if now.Sub(v.at) >= o.ttl {
				delete(o.m, k)
			}
		}
		if len(o.m) >= maxObservations*9/10 {
			clear(o.m) // mostly fresh: start over rather than sweep at every store
		}
	}
	o.m[key] = ob
}
