package coalesce

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/remediator/remediator/worker/ledger"
)

// Sharing observations between replicas. A replica whose read of a
// resource found it compliant (or wrote and verified it) writes that
// observation to the ledger, o.<hash(action, resource)>: the intake
// sequence it had seen before the read began, and when it began. Stream
// sequences are the same for every replica, so the observation covers an
// event on any replica exactly as it does locally: every event stored at
// or before the mark was stored before the read began. A replica whose
// events wait for the resource's lease, held by another replica, looks at
// it while it waits: the other replica's read answers those events, with
// no lease and no cloud call of their own. Losing one (a failed write) only
// costs a read.

// sharedObs is an observation as the ledger keeps it.
type sharedObs struct {
	Key  string    `json:"k"` // hash of the observation key (action and params)
	Mark uint64    `json:"m"`
	At   time.Time `json:"at"`
}

// Store keeps the observations shared between replicas (the ledger).
type Store interface {
	Put(ctx context.Context, key string, value []byte) error
	Get(ctx context.Context, key string) ([]byte, error)
}

// Interest is what an event waiting for a resource can be answered by.
type Interest struct {
	key    string // the ledger key of the resource's observation ("" none)
	obsKey string // the observation key (action and params)
	seq    uint64 // the event's intake sequence
	answer bool   // it may be answered by an observation
}

// InterestIn is the interest of the event seq in the resource an action
// acts on ("": none), read as obsKey (Key).
func InterestIn(action, resource, obsKey string, seq uint64, answer bool) Interest {
	in := Interest{obsKey: obsKey, seq: seq, answer: answer}
	if resource != "" {
		in.key = ledger.Key("o", action, resource)
	}
	return in
}

func obsDigest(obsKey string) string {
	h := sha256.Sum256([]byte(obsKey))
	return hex.EncodeToString(h[:16])
}

// Share writes a compliant observation for the other replicas, in the
// background: nothing waits for it.
func (o *Table) Share(st Store, in Interest, ob Observation) {
	if in.key == "" || o.ttl <= 0 {
		return
	}
	b, _ := json.Marshal(sharedObs{Key: obsDigest(in.obsKey), Mark: ob.Mark, At: ob.At.UTC()})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = st.Put(ctx, in.key, b)
	}()
}

// SharedCover reads the resource's shared observation and reports whether
// it answers the event.
func (o *Table) SharedCover(ctx context.Context, st Store, in Interest) (Observation, bool) {
	if in.key == "" || !in.answer || o.ttl <= 0 {
		return Observation{}, false
	}
	v, err := st.Get(ctx, in.key)
	if err != nil {
		return Observation{}, false
	}
	var s sharedObs
	if json.Unmarshal(v, &s) != nil || s.Key != obsDigest(in.obsKey) || s.Mark < in.seq || o.now().Sub(s.At) >= o.ttl {
		return Observation{}, false
	}
	return Observation{Mark: s.Mark, At: s.At}, true
}
