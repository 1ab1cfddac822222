package worker

import (
	"math/rand/v2"
	"time"

	"github.com/remediator/remediator/worker/action"
)

// backoff returns the delay before the next attempt: base·2^(attempt-1),
// capped at RetryMax, with jitter drawn from [d/2, d]. Throttling starts
// from ThrottleBase so the worker backs off harder when told to.
func (c Config) backoff(attempt int, reason action.Reason, rnd func(int64) int64) time.Duration {
	base := c.RetryBase
	if reason == action.ReasonThrottled {
		base = c.ThrottleBase
	}
	d := base
	for i := 1; i < attempt && d < c.RetryMax; i++ {
		d *= 2
	}
	d = min(d, c.RetryMax)
	half := int64(d / 2)
	if half <= 0 {
		return d
	}
	return time.Duration(half + rnd(half+1))
}

func jitter(n int64) int64 { return rand.Int64N(n) }
