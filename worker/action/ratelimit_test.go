package action

import (
	"context"
	"testing"
	"time"
)

func TestRateLimiterBuckets(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewRateLimiter(Rate{PerSecond: 2, Burst: 1}, map[string]Rate{"fast": {PerSecond: 100, Burst: 10}, "free": {}})
	l.now = func() time.Time { return t0 }
	a := WithRateScope(context.Background(), "huawei", "acct-a", "cn-north-4")
	b := WithRateScope(context.Background(), "huawei", "acct-b", "cn-north-4")
	want := []time.Duration{0, 500 * time.Millisecond, time.Second}
	for i, w := range want {
		if d := l.reserve(a, "kms.enable-key-rotation"); d != w {
			t.Errorf("call %d waits %s, want %s", i, d, w)
		}
	}
	if d := l.reserve(b, "kms.enable-key-rotation"); d != 0 {
		t.Errorf("another account shares the bucket: waits %s", d)
	}
	if d := l.reserve(a, "kms.describe-key"); d != 0 {
		t.Errorf("another API shares the bucket: waits %s", d)
	}
	for range 10 {
		if d := l.reserve(a, "fast"); d != 0 {
			t.Fatalf("burst of the per-API rate not honoured: %s", d)
		}
	}
	for range 100 {
		if d := l.reserve(a, "free"); d != 0 {
			t.Fatal("a zero rate must not limit")
		}
	}
	var none *RateLimiter
	if err := none.Wait(a, "x"); err != nil {
		t.Error(err)
	}
}

func TestRateLimiterWaitHonoursContext(t *testing.T) {
	t.Parallel()
	l := NewRateLimiter(Rate{PerSecond: 0.001, Burst: 1}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	if err := l.Wait(ctx, "op"); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := l.Wait(ctx, "op"); err == nil {
		t.Error("a canceled wait must fail")
	}
}
