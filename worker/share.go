package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/remediator/remediator/rules"
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

// interest is what an event waiting for a resource can be answered by.
type interest struct {
	key    string // the ledger key of the resource's observation ("" none)
	obsKey string // the observation key (action and params)
	seq    uint64 // the event's intake sequence
	answer bool   // it may be answered by an observation
}

// interestOf is the interest of the event seq in the resource mt acts on.
func interestOf(mt rules.Match, obsKey string, seq uint64, answer bool) interest {
	in := interest{obsKey: obsKey, seq: seq, answer: answer}
	if rp := mt.Rule.ResourceParam(); rp != "" && mt.Params[rp] != "" {
		in.key = ledger.Key("o", mt.Rule.Action, mt.Params[rp])
	}
	return in
}

func obsDigest(obsKey string) string {
	h := sha256.Sum256([]byte(obsKey))
	return hex.EncodeToString(h[:16])
}

// share writes a compliant observation for the other replicas, in the
// background: nothing waits for it.
func (w *Worker) share(in interest, ob observation) {
	if in.key == "" || w.obs.ttl <= 0 {
		return
	}
	b, _ := json.Marshal(sharedObs{Key: obsDigest(in.obsKey), Mark: ob.mark, At: ob.at.UTC()})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = w.ledger.Put(ctx, in.key, b)
	}()
}

// sharedCover reads the resource's shared observation and reports whether
// it answers the event.
func (w *Worker) sharedCover(ctx context.Context, in interest) (observation, bool) {
	if in.key == "" || !in.answer || w.obs.ttl <= 0 {
		return observation{}, false
	}
	v, err := w.ledger.Get(ctx, in.key)
	if err != nil {
		return observation{}, false
	}
	var s sharedObs
	if json.Unmarshal(v, &s) != nil || s.Key != obsDigest(in.obsKey) || s.Mark < in.seq || w.obs.now().Sub(s.At) >= w.obs.ttl {
		return observation{}, false
	}
	return observation{mark: s.Mark, at: s.At}, true
}
