package action

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a token bucket: PerSecond calls on average, Burst at once.
type Rate struct {
	PerSecond float64
	Burst     int
}

// RateLimiter paces cloud calls with one token bucket per provider,
// account, region and API, so the worker slows down before the provider
// throttles it. A nil *RateLimiter never waits.
type RateLimiter struct {
	def   Rate
	perOp map[string]Rate // by operation, e.g. "kms.enable-key-rotation"
	now   func() time.Time
	mu    sync.Mutex
	b     map[string]*rate.Limiter
}

// NewRateLimiter returns a limiter with a default rate and per-operation
// overrides. A rate with PerSecond 0 does not limit.
func NewRateLimiter(def Rate, perOp map[string]Rate) *RateLimiter {
	return &RateLimiter{def: def, perOp: perOp, now: time.Now, b: map[string]*rate.Limiter{}}
}

type scopeKey struct{}

// WithRateScope names the bucket family (provider, account, region) the
// calls made under ctx draw from.
func WithRateScope(ctx context.Context, provider, account, region string) context.Context {
	return context.WithValue(ctx, scopeKey{}, provider+"/"+account+"/"+region)
}

// Wait blocks until the bucket of ctx's scope and op has a token, or ctx
// ends.
func (l *RateLimiter) Wait(ctx context.Context, op string) error {
	d := l.reserve(ctx, op)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return Classify(ctx.Err())
	}
}

// reserve takes a token and returns how long to wait for it.
func (l *RateLimiter) reserve(ctx context.Context, op string) time.Duration {
	if l == nil {
		return 0
	}
	r, ok := l.perOp[op]
	if !ok {
		r = l.def
	}
	if r.PerSecond <= 0 {
		return 0
	}
	scope, _ := ctx.Value(scopeKey{}).(string)
	key := scope + "/" + op
	l.mu.Lock()
	b, ok := l.b[key]
	if !ok {
		b = rate.NewLimiter(rate.Limit(r.PerSecond), max(r.Burst, 1))
		l.b[key] = b
	}
	l.mu.Unlock()
	now := l.now()
	return b.ReserveN(now, 1).DelayFrom(now)
}
