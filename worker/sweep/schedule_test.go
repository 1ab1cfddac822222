package sweep_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/remediator/remediator/worker/embedded/embeddedtest"
	"github.com/remediator/remediator/worker/ledger"
	"github.com/remediator/remediator/worker/sweep"
)

// Two replicas sweeping every period: one sweep per period, never two at
// once, each finished sweep's posture kept.
func TestScheduleOneSweepPerPeriod(t *testing.T) {
	t.Parallel()
	b := setup(t, "../../testdata/cloudsim/demo.yaml")
	_, _, js := embeddedtest.Start(t)
	kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "REMEDIATION_CONTROL"})
	if err != nil {
		t.Fatal(err)
	}
	const every = 1500 * time.Millisecond
	var (
		mu       sync.Mutex
		starts   []time.Time
		owners   []string
		running  int
		overlaps int
	)
	ctx, cancel := context.WithTimeout(context.Background(), 4*every+every/2)
	defer cancel()
	var wg sync.WaitGroup
	for _, owner := range []string{"replica-a", "replica-b"} {
		s := &sweep.Schedule{KV: kv, Every: every, Owner: owner, Poll: 20 * time.Millisecond, LeaseFor: time.Second,
			Log: zap.NewNop(),
			Sweeper: func() *sweep.Sweeper {
				sw := *b.sweeper
				return &sw
			},
			Publish: func(context.Context, *sweep.Report) (int, error) {
				mu.Lock()
				running++
				if running > 1 {
					overlaps++
				}
				mu.Unlock()
				time.Sleep(100 * time.Millisecond) // a sweep that takes a while
				mu.Lock()
				running--
				mu.Unlock()
				return 0, nil
			},
			Done: func(r *sweep.Report) {
				mu.Lock()
				defer mu.Unlock()
				starts, owners = append(starts, r.Started), append(owners, owner)
			},
		}
		wg.Add(1)
		go func() { defer wg.Done(); s.Run(ctx) }()
	}
	wg.Wait()
	if overlaps > 0 {
		t.Errorf("%d sweeps ran while another was running", overlaps)
	}
	if len(starts) < 3 || len(starts) > 5 { // 5 on time; fewer when the machine is slow
		t.Errorf("%d sweeps in %s at one every %s (by %v), want 3 to 5", len(starts), 4*every+every/2, every, owners)
	}
	for i := 1; i < len(starts); i++ {
		if gap := starts[i].Sub(starts[i-1]); gap < every {
			t.Errorf("sweeps %d and %d started %s apart, less than the period %s", i-1, i, gap, every)
		}
	}
	last, err := sweep.ReadLast(context.Background(), kv)
	if err != nil || last == nil {
		t.Fatalf("last sweep: %v, %v", last, err)
	}
	rep, err := sweep.ReadPosture(context.Background(), kv)
	if err != nil || rep == nil {
		t.Fatalf("posture: %v, %v", rep, err)
	}
	if rep.ID != last.ID || len(rep.Rows) != 14 {
		t.Errorf("posture %s with %d rows; last sweep %s", rep.ID, len(rep.Rows), last.ID)
	}
}

// A replica that died while sweeping leaves its lease: the next replica
// sweeps once the lease has run out, from the start.
func TestScheduleTakesOverAnExpiredLease(t *testing.T) {
	t.Parallel()
	b := setup(t, "../../testdata/cloudsim/demo.yaml")
	_, _, js := embeddedtest.Start(t)
	kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: "REMEDIATION_CONTROL"})
	if err != nil {
		t.Fatal(err)
	}
	// The dead replica's lease: claimed, never renewed nor released; it
	// holds until at least held.
	held := time.Now().Add(time.Second)
	if _, err := ledger.New(kv, time.Second).Claim(context.Background(), sweep.LeaseKey); err != nil {
		t.Fatal(err)
	}
	var swept time.Time
	s := &sweep.Schedule{KV: kv, Every: time.Hour, Owner: "replica-b", Log: zap.NewNop(), LeaseFor: time.Second,
		Sweeper: func() *sweep.Sweeper { sw := *b.sweeper; return &sw },
		Publish: func(context.Context, *sweep.Report) (int, error) { return 0, nil },
		Done:    func(r *sweep.Report) { swept = r.Started },
	}
	for time.Now().Before(held.Add(2 * time.Second)) {
		if err := s.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
		if !swept.IsZero() {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	switch {
	case swept.IsZero():
		t.Fatal("no sweep after the dead replica's lease ran out")
	case swept.Before(held):
		t.Errorf("swept at %s while the dead replica's lease held until %s", swept, held)
	}
	if last, err := sweep.ReadLast(context.Background(), kv); err != nil || last == nil || last.Owner != "replica-b" {
		t.Errorf("last sweep %+v, %v", last, err)
	}
}
