package action

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Rate is a token bucket: PerSecond calls on average, Burst at once. A
// PerSecond of 0 does not limit.
type Rate struct {
	PerSecond float64
	Burst     int
}

func (r Rate) String() string {
	return strconv.FormatFloat(r.PerSecond, 'f', -1, 64) + ":" + strconv.Itoa(max(r.Burst, 1))
}

// Rates names what each bucket paces. A key is one of
//   - an API, "kms.enable-key-rotation" or "ecs.ModifyDiskDefaultKMSKeyId":
//     that API has a bucket of its own;
//   - a service, "kms": every API of the service without a key of its own
//     draws from one bucket the service shares (as Huawei KMS counts all
//     its APIs against one quota);
//   - "*": every API named nowhere else has a bucket of its own at this
//     rate.
//
// Buckets are kept per provider, account and region besides (see
// WithRateScope).
type Rates map[string]Rate

// Merge returns r with the entries of o added or replacing r's.
func (r Rates) Merge(o Rates) Rates {
	out := maps.Clone(r)
	if out == nil {
		out = Rates{}
	}
	maps.Copy(out, o)
	return out
}

// String lists the rates as the --rate flag takes them, sorted.
func (r Rates) String() string {
	keys := slices.Sorted(maps.Keys(r))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + r[k].String()
	}
	return strings.Join(parts, ",")
}

// knownService reports whether calls of the service are paced; a rate's
// key names one of them, one of their APIs ("kms.describe-key"), or "*".
func knownService(s string) bool { return s == "ecs" || s == "evs" || s == "kms" }

// ParseRate reads "API=PER_SECOND[:BURST]" (burst 1 when left out; a rate
// of 0 turns that bucket off).
func ParseRate(s string) (string, Rate, error) {
	key, val, ok := strings.Cut(strings.TrimSpace(s), "=")
	if !ok || key == "" {
		return "", Rate{}, fmt.Errorf("rate %q: want API=PER_SECOND[:BURST]", s)
	}
	if svc, _, _ := strings.Cut(key, "."); key != "*" && !knownService(svc) {
		return "", Rate{}, fmt.Errorf("rate %q: %q is not *, a service (ecs, evs, kms) or one of their APIs", s, key)
	}
	ps, bs, hasBurst := strings.Cut(val, ":")
	per, err := strconv.ParseFloat(ps, 64)
	if err != nil || per < 0 || math.IsNaN(per) || math.IsInf(per, 0) {
		return "", Rate{}, fmt.Errorf("rate %q: %q is not a rate per second", s, ps)
	}
	r := Rate{PerSecond: per, Burst: 1}
	if hasBurst {
		if r.Burst, err = strconv.Atoi(bs); err != nil || r.Burst < 1 {
			return "", Rate{}, fmt.Errorf("rate %q: burst %q is not a positive whole number", s, bs)
		}
	}
	return key, r, nil
}

// RateLimiter paces cloud calls with token buckets per provider, account,
// region and API (or service, see Rates), so the worker slows down before
// the provider throttles it. A nil *RateLimiter never waits.
type RateLimiter struct {
	rates Rates
	now   func() time.Time
	mu    sync.Mutex
	b     map[string]*rate.Limiter
}

// NewRateLimiter returns a limiter pacing at rates.
func NewRateLimiter(rates Rates) *RateLimiter {
	return &RateLimiter{rates: rates, now: time.Now, b: map[string]*rate.Limiter{}}
}

// buckets names the buckets op draws from and their rates: its own, when
// it has one, and its service's, when that has one (both, so an API's own
// rate cannot add to the quota its service shares); else "*", per API.
func (l *RateLimiter) buckets(op string) []namedRate {
	var out []namedRate
	if r, ok := l.rates[op]; ok {
		out = append(out, namedRate{op, r})
	}
	if svc, _, ok := strings.Cut(op, "."); ok {
		if r, ok := l.rates[svc]; ok {
			out = append(out, namedRate{svc, r})
		}
	}
	if len(out) == 0 {
		if r, ok := l.rates["*"]; ok {
			out = append(out, namedRate{op, r})
		}
	}
	return out
}

type namedRate struct {
	name string
	rate Rate
}

type scopeKey struct{}

// WithActionScope is WithRateScope for a call of the named action with
// these params: the provider from the action's name
// ("<provider>.<service>.<verb>"), the account and region params.
func WithActionScope(ctx context.Context, action string, params map[string]string) context.Context {
	provider, _, _ := strings.Cut(action, ".")
	return WithRateScope(ctx, provider, params["account"], params["region"])
}

// WithRateScope names the bucket family (provider, account, region) the
// calls made under ctx draw from.
func WithRateScope(ctx context.Context, provider, account, region string) context.Context {
	return context.WithValue(ctx, scopeKey{}, provider+"/"+account+"/"+region)
}

// Wait blocks until every bucket of ctx's scope that op draws from has a
// token, or ctx ends (then the tokens go back).
func (l *RateLimiter) Wait(ctx context.Context, op string) error {
	d, rs := l.reserve(ctx, op)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		now := l.now()
		for _, r := range rs {
			r.CancelAt(now)
		}
		return Classify(ctx.Err())
	}
}

// reserve takes a token from each bucket and returns how long to wait for
// the last of them.
func (l *RateLimiter) reserve(ctx context.Context, op string) (time.Duration, []*rate.Reservation) {
	if l == nil {
		return 0, nil
	}
	scope, _ := ctx.Value(scopeKey{}).(string)
	now := l.now()
	var wait time.Duration
	var rs []*rate.Reservation
	for _, b := range l.buckets(op) {
		if b.rate.PerSecond <= 0 {
			continue
		}
		key := scope + "/" + b.name
		l.mu.Lock()
		lim, ok := l.b[key]
		if !ok {
			lim = rate.NewLimiter(rate.Limit(b.rate.PerSecond), max(b.rate.Burst, 1))
			l.b[key] = lim
		}
		l.mu.Unlock()
		r := lim.ReserveN(now, 1)
		rs = append(rs, r)
		wait = max(wait, r.DelayFrom(now))
	}
	return wait, rs
}
