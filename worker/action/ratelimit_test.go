package action

import (
	"context"
	"testing"
	"time"
)

func TestRateLimiterBuckets(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewRateLimiter(Rates{"*": {PerSecond: 2, Burst: 1}, "fast": {PerSecond: 100, Burst: 10}, "free": {}})
	l.now = func() time.Time { return t0 }
	a := WithRateScope(context.Background(), "huawei", "acct-a", "cn-north-4")
	b := WithRateScope(context.Background(), "huawei", "acct-b", "cn-north-4")
	want := []time.Duration{0, 500 * time.Millisecond, time.Second}
	for i, w := range want {
		if d, _ := l.reserve(a, "kms.enable-key-rotation"); d != w {
			t.Errorf("call %d waits %s, want %s", i, d, w)
		}
	}
	if d, _ := l.reserve(b, "kms.enable-key-rotation"); d != 0 {
		t.Errorf("another account shares the bucket: waits %s", d)
	}
	if d, _ := l.reserve(a, "kms.describe-key"); d != 0 {
		t.Errorf("another API shares the bucket: waits %s", d)
	}
	for range 10 {
		if d, _ := l.reserve(a, "fast"); d != 0 {
			t.Fatalf("burst of the per-API rate not honoured: %s", d)
		}
	}
	for range 100 {
		if d, _ := l.reserve(a, "free"); d != 0 {
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
	l := NewRateLimiter(Rates{"*": {PerSecond: 0.001, Burst: 1}})
	ctx, cancel := context.WithCancel(context.Background())
	if err := l.Wait(ctx, "op"); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := l.Wait(ctx, "op"); err == nil {
		t.Error("a canceled wait must fail")
	}
}

// TestRateLimiterServiceBucket: a service's APIs share its bucket unless
// an API has one of its own; other services fall to "*".
func TestRateLimiterServiceBucket(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewRateLimiter(Rates{"kms": {PerSecond: 1, Burst: 2}, "kms.describe-key": {PerSecond: 1, Burst: 1}})
	l.now = func() time.Time { return t0 }
	ctx := WithRateScope(context.Background(), "huawei", "a", "r")
	for i, op := range []string{"kms.enable-key-rotation", "kms.get-key-rotation-status"} {
		if d, _ := l.reserve(ctx, op); d != 0 {
			t.Errorf("call %d (%s) waits %s within the shared burst", i, op, d)
		}
	}
	if d, _ := l.reserve(ctx, "kms.disable-key"); d != time.Second {
		t.Errorf("a third KMS call waits %s, want 1s (the service shares one bucket)", d)
	}
	if d, _ := l.reserve(ctx, "kms.describe-key"); d != 2*time.Second {
		t.Errorf("an API with its own bucket waits %s, want 2s: it still draws from its service's", d)
	}
	if d, _ := l.reserve(ctx, "kms.describe-key"); d != 3*time.Second {
		t.Errorf("the API's own bucket (1/s, burst 1) and the service's: waits %s, want 3s", d)
	}
	for range 50 {
		if d, _ := l.reserve(ctx, "ecs.DescribeDiskDefaultKMSKeyId"); d != 0 {
			t.Fatal("an API named nowhere, with no \"*\", must not wait")
		}
	}
}

func TestParseRate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, key string
		want    Rate
		err     bool
	}{
		{"kms=20:20", "kms", Rate{20, 20}, false},
		{"ecs.ModifyDiskDefaultKMSKeyId=0.5", "ecs.ModifyDiskDefaultKMSKeyId", Rate{0.5, 1}, false},
		{"*=0", "*", Rate{0, 1}, false},
		{"kms", "", Rate{}, true},
		{"=3", "", Rate{}, true},
		{"kms=fast", "", Rate{}, true},
		{"kms=-1", "", Rate{}, true},
		{"kms=2:0", "", Rate{}, true},
		{"kms=NaN", "", Rate{}, true},
		{"kms=Inf", "", Rate{}, true},
		{"kmss=3", "", Rate{}, true},
		{"s3.put=3", "", Rate{}, true},
	} {
		key, r, err := ParseRate(tc.in)
		if (err != nil) != tc.err || key != tc.key || r != tc.want {
			t.Errorf("ParseRate(%q) = %q, %+v, %v", tc.in, key, r, err)
		}
	}
	rs := Rates{"kms": {20, 20}}.Merge(Rates{"*": {5, 1}})
	if got := rs.String(); got != "*=5:1,kms=20:20" {
		t.Errorf("String = %q", got)
	}
}

// TestRateLimiterCanceledWaitGivesTheTokenBack: a wait that ends with its
// context does not hold the token it was waiting for.
func TestRateLimiterCanceledWaitGivesTheTokenBack(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := NewRateLimiter(Rates{"*": {PerSecond: 1, Burst: 1}})
	l.now = func() time.Time { return t0 }
	if d, _ := l.reserve(context.Background(), "op"); d != 0 {
		t.Fatal("the first call must not wait")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Wait(ctx, "op"); err == nil {
		t.Fatal("a canceled wait must fail")
	}
	if d, _ := l.reserve(context.Background(), "op"); d != time.Second {
		t.Errorf("after a canceled wait the next call waits %s, want 1s (the token came back)", d)
	}
}
