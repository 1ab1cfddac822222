package worker

import (
	"context"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/coalesce"
	"github.com/remediator/remediator/worker/ledger"
)

// fakeLeases is a leaseStore in memory whose renewals can be made to find
// someone else's write.
type fakeLeases struct {
	stolen  bool // Renew and ReleaseOwned find a revision mismatch
	claimed []string
	done    []audit.Outcome
}

func (f *fakeLeases) Claim(_ context.Context, key string) (ledger.Lease, error) {
	f.claimed = append(f.claimed, key)
	return ledger.Lease{}, nil
}

func (f *fakeLeases) Renew(context.Context, *ledger.Lease) error {
	if f.stolen {
		return jetstream.ErrKeyRevisionMismatch
	}
	return nil
}

func (f *fakeLeases) Done(_ context.Context, _ ledger.Lease, o audit.Outcome) error {
	if f.stolen {
		return jetstream.ErrKeyRevisionMismatch
	}
	f.done = append(f.done, o)
	return nil
}

func (f *fakeLeases) Release(context.Context, ledger.Lease) {}

func (f *fakeLeases) ReleaseOwned(context.Context, ledger.Lease) error {
	if f.stolen {
		return jetstream.ErrKeyRevisionMismatch
	}
	return nil
}

func (f *fakeLeases) Now() time.Time     { return time.Now() }
func (f *fakeLeases) TTL() time.Duration { return time.Minute }

// fakeRecords is the ledger with fake leases; nothing else is used by the
// leases middleware.
type fakeRecords struct {
	*fakeLeases
	deliveryStore
	sharedStore
}

// TestLeasesMiddlewareWithAFakeLedger: the leases middleware runs against
// a fake of the ledger. With the leases held, the action's fenced write
// goes ahead and the done record is kept; with the event's lease taken
// over (the renewal finds someone else's revision), the fence refuses the
// write and the delivery is superseded.
func TestLeasesMiddlewareWithAFakeLedger(t *testing.T) {
	t.Parallel()
	ev := cloudevents.NewEvent()
	ev.SetID("fake-1")
	ev.SetSource("HC.KMS")
	env := &events.Envelope{Event: ev}
	mt := rules.Match{Rule: &rules.Rule{Name: "r", Action: "huawei.kms.enable_key_rotation"}}
	for _, stolen := range []bool{false, true} {
		leases := &fakeLeases{stolen: stolen}
		w := &Worker{cfg: DefaultConfig().withDefaults(), log: zap.NewNop(), obs: coalesce.New(0, time.Now),
			ledger: fakeRecords{fakeLeases: leases}}
		wrote := false
		act := func(ctx context.Context, _ *job) (ran, *action.Error) {
			if err := action.BeforeWrite(ctx); err != nil {
				return ran{}, action.Classify(err)
			}
			wrote = true
			return ran{outcome: audit.Remediated, wrote: true}, nil
		}
		_, ferr := w.leases(act)(context.Background(), &job{mt: mt, env: env})
		key := ledger.EventKey("HC.KMS", "fake-1", "r")
		switch {
		case !stolen && (ferr != nil || !wrote || len(leases.done) != 1 || leases.done[0] != audit.Remediated):
			t.Errorf("leases held: err %v, wrote %t, done %v; want a write and its done record", ferr, wrote, leases.done)
		case stolen && (ferr == nil || ferr.Class != action.Superseded || wrote || len(leases.done) != 0):
			t.Errorf("lease taken over: err %v, wrote %t, done %v; want superseded, no write, no record", ferr, wrote, leases.done)
		}
		if len(leases.claimed) != 1 || leases.claimed[0] != key {
			t.Errorf("claimed %v, want the event's key only (the rule names no resource)", leases.claimed)
		}
	}
}
