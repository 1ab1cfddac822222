package worker

import (
	"context"
	"time"

	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/coalesce"
	"github.com/remediator/remediator/worker/ledger"
)

// What the worker keeps in the ledger (ledger.Ledger), by concern, and
// the coalescing of reads (coalesce.Table); a test fakes any of them.
type (
	// leaseStore holds the leases and done records of the work.
	leaseStore interface {
		Claim(ctx context.Context, key string) (ledger.Lease, error)
		Renew(ctx context.Context, ls *ledger.Lease) error
		Done(ctx context.Context, ls ledger.Lease, o audit.Outcome) error
		Release(ctx context.Context, ls ledger.Lease)
		ReleaseOwned(ctx context.Context, ls ledger.Lease) error
		Now() time.Time
		TTL() time.Duration
	}
	// deliveryStore counts the deliveries that only waited, and keeps when
	// a message first failed.
	deliveryStore interface {
		Waits(ctx context.Context, stream string, seq uint64) (ledger.Waits, error)
		SetWaits(ctx context.Context, stream string, seq uint64, w ledger.Waits) error
		ForgetWaits(ctx context.Context, stream string, seq uint64)
		NoteFailure(ctx context.Context, stream string, seq uint64)
		FirstFailure(ctx context.Context, stream string, seq uint64, now time.Time) time.Time
	}
	// sharedStore keeps the observations shared between replicas.
	sharedStore interface {
		Put(ctx context.Context, key string, value []byte) error
		Get(ctx context.Context, key string) ([]byte, error)
	}
	// reads coalesces the reads of one resource (coalesce.Table).
	reads interface {
		Received(seq uint64)
		Start(ctx context.Context, key string, seq uint64, answer bool) (coalesce.Observation, bool, func(coalesce.Found) (coalesce.Observation, bool), error)
		Wait(ctx context.Context, done <-chan struct{}, what string) error
		Adopt(key string, ob coalesce.Observation)
		Share(st coalesce.Store, in coalesce.Interest, ob coalesce.Observation)
		SharedCover(ctx context.Context, st coalesce.Store, in coalesce.Interest) (coalesce.Observation, bool)
	}
	records interface {
		leaseStore
		deliveryStore
		sharedStore
	}
)
