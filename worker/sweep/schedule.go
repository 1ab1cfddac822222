package sweep

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/remediator/remediator/worker/ledger"
)

// Keys of the control bucket the schedule keeps its state in.
const (
	LeaseKey   = "sweep.lease"   // who sweeps now, and until when unless renewed
	LastKey    = "sweep.last"    // the last finished sweep: id, times, summary
	PostureKey = "sweep.posture" // the last finished sweep's report, gzipped JSON
)

// Last is what LastKey holds.
type Last struct {
	ID       string    `json:"id"`
	Owner    string    `json:"owner"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	Summary  []Summary `json:"summary"`
}

// Schedule sweeps every Every, on one replica at a time: the replica that
// holds the lease in the control bucket sweeps, renews the lease while it
// does, and records the sweep; the others see the record and wait for the
// next period. A replica that stops half way leaves its lease to expire,
// and the next replica to look sweeps again from the start (nothing of an
// unfinished sweep is published or kept).
type Schedule struct {
	KV    jetstream.KeyValue
	Every time.Duration
	Owner string // this replica's name in the lease
	// Sweeper returns the sweeper of the current rules.
	Sweeper func() *Sweeper
	// Publish puts a finished report's findings on the intake stream.
	Publish func(ctx context.Context, r *Report) (int, error)
	// Done, when set, is told of each finished sweep (metrics).
	Done func(r *Report)
	Log  *zap.Logger
	Now  func() time.Time
	// LeaseFor is how long a lease holds unless renewed (default 1m; it
	// is renewed every third of it).
	LeaseFor time.Duration
	// Poll is how often a replica looks whether a sweep is due (default
	// a tenth of Every, at least 1s, at most 1m).
	Poll time.Duration

	once   sync.Once
	ledger *ledger.Ledger
}

// Run looks every Poll whether a sweep is due and sweeps when it is and
// this replica takes the lease, until ctx ends.
func (s *Schedule) Run(ctx context.Context) {
	poll := s.Poll
	if poll <= 0 {
		poll = min(max(s.Every/10, time.Second), time.Minute)
	}
	t := time.NewTicker(poll)
	defer t.Stop()
	for {
		if err := s.Tick(ctx); err != nil && ctx.Err() == nil {
			s.Log.Warn("sweep_failed", zap.Error(err))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Schedule) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Schedule) leaseFor() time.Duration {
	if s.LeaseFor > 0 {
		return s.LeaseFor
	}
	return time.Minute
}

// Tick sweeps once if a sweep is due and the lease is free; it reports
// whether it swept through the log and Done.
func (s *Schedule) Tick(ctx context.Context) error {
	last, err := s.last(ctx)
	if err != nil {
		return err
	}
	start := s.now()
	if last != nil && start.Before(last.Started.Add(s.Every)) {
		return nil
	}
	ls, ok, err := s.take(ctx)
	if err != nil || !ok {
		return err
	}
	sweepCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	renewed := make(chan error, 1)
	go func() { renewed <- s.renew(sweepCtx, cancel, ls) }() // releases the lease when the sweep ends
	// Another replica may have finished a sweep between the read and
	// the lease.
	if last, err = s.last(ctx); err != nil || (last != nil && start.Before(last.Started.Add(s.Every))) {
		cancel()
		<-renewed
		return err
	}
	id := "periodic-" + start.UTC().Format("20060102T150405Z")
	s.Log.Info("sweep_started", zap.String("sweep", id))
	rep, err := s.Sweeper().Run(sweepCtx, id)
	if err == nil {
		var n int
		if n, err = s.Publish(sweepCtx, rep); err == nil {
			err = s.record(sweepCtx, rep)
		}
		s.Log.Info("sweep_finished", zap.String("sweep", id), zap.Int("rows", len(rep.Rows)), zap.Int("published", n),
			zap.Duration("took", rep.Finished.Sub(rep.Started)), zap.Any("summary", rep.Summary))
	}
	cancel()
	if lerr := <-renewed; err == nil && lerr != nil {
		err = lerr
	}
	if err != nil {
		return fmt.Errorf("sweep %s: %w", id, err)
	}
	if s.Done != nil {
		s.Done(rep)
	}
	return nil
}

// take claims the sweep's lease through the ledger (create, or take over
// one whose holder stopped renewing); false when another replica holds it.
func (s *Schedule) take(ctx context.Context) (ledger.Lease, bool, error) {
	ls, err := s.leases().Claim(ctx, LeaseKey)
	var busy *ledger.BusyError
	switch {
	case errors.As(err, &busy):
		return ledger.Lease{}, false, nil
	case err != nil:
		return ledger.Lease{}, false, err
	}
	return ls, true, nil
}

// renew keeps the lease until ctx ends, then releases it; losing it (a
// renewal refused, or none for as long as the lease lasts) cancels the
// sweep.
func (s *Schedule) renew(ctx context.Context, cancel func(), ls ledger.Lease) error {
	t := time.NewTicker(s.leaseFor() / 3)
	defer t.Stop()
	failed := 0
	for {
		select {
		case <-ctx.Done():
			rctx, done := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			s.leases().Release(rctx, ls)
			done()
			return nil
		case <-t.C:
		}
		err := s.leases().Renew(ctx, &ls)
		switch {
		case err == nil:
			failed = 0
			continue
		case ctx.Err() != nil:
			continue // ending anyway
		case errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		default:
			if failed++; failed < 2 { // the lease outlasts one missed renewal
				continue
			}
		}
		cancel()
		return fmt.Errorf("lost the sweep lease: %w", err)
	}
}

// leases is the ledger the schedule's lease is kept with.
func (s *Schedule) leases() *ledger.Ledger {
	s.once.Do(func() { s.ledger = ledger.New(s.KV, s.leaseFor()) })
	return s.ledger
}

func (s *Schedule) last(ctx context.Context) (*Last, error) {
	return ReadLast(ctx, s.KV)
}

// record keeps the finished sweep: the report, then its summary.
func (s *Schedule) record(ctx context.Context, rep *Report) error {
	if err := PutPosture(ctx, s.KV, rep); err != nil {
		return err
	}
	b, err := json.Marshal(Last{ID: rep.ID, Owner: s.Owner, Started: rep.Started, Finished: rep.Finished, Summary: rep.Summary})
	if err != nil {
		return err
	}
	_, err = s.KV.Put(ctx, LastKey, b)
	return err
}

// ReadLast reads the last finished sweep's record; nil when there is none.
func ReadLast(ctx context.Context, kv jetstream.KeyValue) (*Last, error) {
	e, err := kv.Get(ctx, LastKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var l Last
	if err := json.Unmarshal(e.Value(), &l); err != nil {
		return nil, fmt.Errorf("%s: %w", LastKey, err)
	}
	return &l, nil
}

// maxPosture bounds the stored report, under NATS's default 1 MiB payload.
const maxPosture = 900 << 10

// PutPosture stores a report, gzipped. A report too large even so keeps
// its non-compliant and unknown rows only, and says so in Truncated.
func PutPosture(ctx context.Context, kv jetstream.KeyValue, rep *Report) error {
	b, err := gzipJSON(rep)
	if err != nil {
		return err
	}
	if len(b) > maxPosture {
		small := *rep
		small.Rows, small.Truncated = nil, true
		for _, r := range rep.Rows {
			if r.Status == NonCompliant || r.Status == Unknown {
				small.Rows = append(small.Rows, r)
			}
		}
		if b, err = gzipJSON(&small); err != nil {
			return err
		}
	}
	_, err = kv.Put(ctx, PostureKey, b)
	return err
}

// ReadPosture reads the last finished sweep's report; nil when there is
// none.
func ReadPosture(ctx context.Context, kv jetstream.KeyValue) (*Report, error) {
	e, err := kv.Get(ctx, PostureKey)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(e.Value()))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", PostureKey, err)
	}
	var rep Report
	if err := json.NewDecoder(io.LimitReader(zr, 64<<20)).Decode(&rep); err != nil {
		return nil, fmt.Errorf("%s: %w", PostureKey, err)
	}
	return &rep, nil
}

func gzipJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(v); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
