package guard

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"
)

// GlobalCircuit is the circuit name of the global write limit.
const GlobalCircuit = "_global"

// circuitState is the value of a circuit key.
type circuitState struct {
	Rule     string    `json:"rule"`
	OpenedAt time.Time `json:"opened_at"`
	Until    time.Time `json:"until"`
	Reason   string    `json:"reason"`
}

// CircuitKey is the control-bucket key of a rule's circuit.
func CircuitKey(rule string) string {
	return "circuit." + strings.Map(func(r rune) rune {
		if r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			return r
		}
		return '_'
	}, rule)
}

// circuits is this replica's view of the open circuits, kept current by a
// watch on the control bucket.
type circuits struct {
	kv     jetstream.KeyValue
	mu     sync.Mutex
	open   map[string]circuitState       // by key
	closed func(rule string, rev uint64) // called when a circuit closes, with the revision of its deletion
}

func (c *circuits) watch(ctx context.Context, log *zap.Logger) {
	w, err := c.kv.Watch(ctx, "circuit.>")
	if err != nil {
		log.Error("circuit_watch_failed", zap.Error(err))
		return
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case <-ctx.Done():
			return
		case e, ok := <-w.Updates():
			if !ok {
				return
			}
			if e != nil {
				c.apply(e)
			}
		}
	}
}

func (c *circuits) apply(e jetstream.KeyValueEntry) {
	c.mu.Lock()
	if e.Operation() != jetstream.KeyValuePut {
		st, ok := c.open[e.Key()]
		delete(c.open, e.Key())
		c.mu.Unlock()
		// After the unlock: closed resets the shared write window (a KV
		// round trip or more), and every event's guard reads the circuits.
		if ok && c.closed != nil {
			c.closed(st.Rule, e.Revision())
		}
		return
	}
	defer c.mu.Unlock()
	var st circuitState
	if json.Unmarshal(e.Value(), &st) == nil {
		c.open[e.Key()] = st
	}
}

// blocked returns how long the rule stays blocked, 0 when it may act.
func (c *circuits) blocked(rule string, now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	var wait time.Duration
	for _, k := range []string{CircuitKey(rule), CircuitKey(GlobalCircuit)} {
		if st, ok := c.open[k]; ok && now.Before(st.Until) {
			wait = max(wait, st.Until.Sub(now))
		}
	}
	return wait
}

// trip opens a circuit unless it is open already; it returns true when
// this call opened it.
func (c *circuits) trip(ctx context.Context, rule, reason string, now time.Time, cooldown time.Duration) bool {
	st := circuitState{Rule: rule, OpenedAt: now.UTC(), Until: now.Add(cooldown).UTC(), Reason: reason}
	b, _ := json.Marshal(st)
	_, err := c.kv.Create(ctx, CircuitKey(rule), b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return false
	}
	if err != nil {
		return false
	}
	c.mu.Lock()
	c.open[CircuitKey(rule)] = st
	c.mu.Unlock()
	return true
}

// openCount counts the circuits open at now.
func (c *circuits) openCount(now time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, st := range c.open {
		if now.Before(st.Until) {
			n++
		}
	}
	return n
}
