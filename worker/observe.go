package worker

import (
	"context"
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
	// for any read that begins after it, so one is reused for probeEvery.
	probe    func(context.Context) (uint64, error)
	probeMu  sync.Mutex
	probed   uint64
	probedAt time.Time

	mu       sync.Mutex
	m        map[string]observation
	inflight map[string]*read
}

// read is one cloud read in flight; done closes when it has finished.
type read struct {
	mark uint64
	done chan struct{}
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
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	b.WriteString(act)
	for _, k := range keys {
		b.WriteByte(0)
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(params[k])
	}
	return b.String()
}

// covered reports whether a compliant observation taken after the event
// with sequence seq was stored is still fresh. When a read of key is in
// flight it waits for it first (or until stop closes).
func (o *observations) covered(key string, seq uint64, stop <-chan struct{}) (observation, bool) {
	if o.ttl <= 0 {
		return observation{}, false
	}
	o.mu.Lock()
	r := o.inflight[key]
	o.mu.Unlock()
	if r != nil && r.mark >= seq {
		select {
		case <-r.done:
		case <-stop:
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	ob, ok := o.m[key]
	if !ok || ob.mark < seq || o.now().Sub(ob.at) >= o.ttl {
		return observation{}, false
	}
	return ob, true
}

// probeEvery is how long a stream probe is reused.
const probeEvery = 50 * time.Millisecond

// mark is the highest sequence known to be stored now.
func (o *observations) mark(ctx context.Context) uint64 {
	seen := o.seen.Load()
	if o.probe == nil {
		return seen
	}
	o.probeMu.Lock() // one probe at a time; waiters reuse its answer
	defer o.probeMu.Unlock()
	if o.now().Sub(o.probedAt) >= probeEvery {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		last, err := o.probe(pctx)
		cancel()
		if err != nil {
			return max(seen, o.probed) // an older probe is still sound
		}
		o.probed, o.probedAt = max(o.probed, last), o.now()
	}
	return max(seen, o.probed)
}

// begin starts a read of key and returns the function that ends it; the
// end function is told whether the read found (or left) the state
// compliant.
func (o *observations) begin(ctx context.Context, key string) func(compliant bool) {
	if o.ttl <= 0 {
		return func(bool) {}
	}
	r := &read{mark: o.mark(ctx), done: make(chan struct{})}
	at := o.now()
	o.mu.Lock()
	if _, busy := o.inflight[key]; !busy {
		o.inflight[key] = r
	}
	o.mu.Unlock()
	return func(compliant bool) {
		o.mu.Lock()
		if o.inflight[key] == r {
			delete(o.inflight, key)
		}
		if compliant {
			if cur, ok := o.m[key]; !ok || cur.mark <= r.mark {
				o.store(key, observation{mark: r.mark, at: at})
			}
		} else {
			delete(o.m, key) // found drifted: an older observation says nothing now
		}
		o.mu.Unlock()
		close(r.done)
	}
}

// store adds an observation; o.mu is held.
func (o *observations) store(key string, ob observation) {
	if len(o.m) >= maxObservations {
		now := o.now()
		for k, v := range o.m {
			if now.Sub(v.at) >= o.ttl {
				delete(o.m, k)
			}
		}
		if len(o.m) >= maxObservations {
			clear(o.m)
		}
	}
	o.m[key] = ob
}
