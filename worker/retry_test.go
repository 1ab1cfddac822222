package worker

import (
	"strings"
	"testing"
	"time"

	"github.com/remediator/remediator/worker/action"
)

func TestBackoff(t *testing.T) {
	t.Parallel()
	c := Config{RetryBase: time.Second, ThrottleBase: 5 * time.Second, RetryMax: 30 * time.Second}
	upper := func(n int64) int64 { return n - 1 } // the largest jitter
	lower := func(int64) int64 { return 0 }       // the smallest
	cases := []struct {
		attempt  int
		reason   action.Reason
		min, max time.Duration
	}{
		{1, action.ReasonUnavailable, 500 * time.Millisecond, time.Second},
		{2, action.ReasonUnavailable, time.Second, 2 * time.Second},
		{3, action.ReasonTimeout, 2 * time.Second, 4 * time.Second},
		{10, action.ReasonUnavailable, 15 * time.Second, 30 * time.Second},
		{1, action.ReasonThrottled, 2500 * time.Millisecond, 5 * time.Second},
		{3, action.ReasonThrottled, 10 * time.Second, 20 * time.Second},
		{60, action.ReasonThrottled, 15 * time.Second, 30 * time.Second},
	}
	for _, tc := range cases {
		lo, hi := c.backoff(tc.attempt, tc.reason, lower), c.backoff(tc.attempt, tc.reason, upper)
		if lo != tc.min || hi != tc.max {
			t.Errorf("attempt %d %s: range [%s, %s], want [%s, %s]", tc.attempt, tc.reason, lo, hi, tc.min, tc.max)
		}
	}
	for range 1000 {
		if d := c.backoff(4, action.ReasonUnavailable, jitter); d < 4*time.Second || d > 8*time.Second {
			t.Fatalf("jittered delay %s outside [4s, 8s]", d)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	c.MaxEventBytes = int(c.MaxMsgSize) + 1
	c.MaxDeliver = 1
	c.MaxAckPending = 2
	c.Concurrency = 4
	c.Prefetch = 64
	err := c.withDefaults().validate() // as New does
	// The default prefetch: 8 per handler, at least 64, at most max ack
	// pending, at least the concurrency.
	big := DefaultConfig()
	big.Concurrency = 4
	if got := big.withDefaults().Prefetch; got != 64 {
		t.Errorf("prefetch %d at concurrency 4, want 64", got)
	}
	big.Concurrency = 16
	if got := big.withDefaults().Prefetch; got != 128 {
		t.Errorf("prefetch %d at concurrency 16, want 128 (8 per handler)", got)
	}
	big.Prefetch = 20
	if got := big.withDefaults().Prefetch; got != 20 {
		t.Errorf("prefetch %d when set to 20, want 20", got)
	}
	// The default window stays within max ack pending: a large
	// concurrency still starts.
	big.Prefetch = 0
	big.Concurrency = 200
	if got := big.withDefaults(); got.Prefetch != 1000 || got.validate() != nil {
		t.Errorf("concurrency 200: prefetch %d, %v; want 1000 (max ack pending) and no error", got.Prefetch, got.validate())
	}
	big.Concurrency, big.MaxAckPending = 16, 100
	if got := big.withDefaults(); got.Prefetch != 100 || got.validate() != nil {
		t.Errorf("concurrency 16, max ack pending 100: prefetch %d, %v; want 100 and no error", got.Prefetch, got.validate())
	}
	if err == nil {
		t.Fatal("want errors")
	}
	for _, want := range []string{"exceeds the stream's max message size", "below the prefetch", "at least 2"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
