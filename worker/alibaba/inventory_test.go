package alibaba

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/cloudsim"
)

// TestDiskEncryptionDefault reads each region's own state through the
// real SDK: two regions with different keys, one on the service key, one
// with default encryption off (its key is not read).
func TestDiskEncryptionDefault(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	cases := []struct {
		region  string
		enabled bool
		key     string
	}{
		{"cn-hangzhou", true, rogue},
		{"cn-beijing", true, approved},
		{"cn-shenzhen", true, ""},
		{"cn-wulanchabu", false, ""},
	}
	for _, tc := range cases {
		enabled, key, err := b.p.DiskEncryptionDefault(context.Background(), account, tc.region)
		if err != nil || enabled != tc.enabled || key != tc.key {
			t.Errorf("%s: %v %q %v, want %v %q", tc.region, enabled, key, err, tc.enabled, tc.key)
		}
	}
	reads := map[string]int{}
	for _, c := range b.sim.Calls() {
		reads[c.Params["RegionId"]+" "+c.Op]++
		if c.Write {
			t.Errorf("a read wrote: %+v", c)
		}
	}
	if reads["cn-wulanchabu ecs.DescribeDiskDefaultKMSKeyId"] != 0 || reads["cn-hangzhou ecs.DescribeDiskDefaultKMSKeyId"] != 1 {
		t.Errorf("calls %v: the key is read only where default encryption is on", reads)
	}
	_, _, err := b.p.DiskEncryptionDefault(context.Background(), account, "ap-nowhere-1")
	wantErr(t, err, action.Permanent, action.ReasonInvalidParams)
}

// TestDiskEncryptionDefaultThrottled: a throttled read is the classified
// throttle error naming the API.
func TestDiskEncryptionDefaultThrottled(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.sim.Inject(cloudsim.Fault{Op: opGetKey, Count: 1, Status: 429, Code: "APIGW.0308"})
	_, _, err := b.p.DiskEncryptionDefault(context.Background(), account, "cn-hangzhou")
	wantErr(t, err, action.Retryable, action.ReasonThrottled)
	if !strings.HasPrefix(err.(*action.Error).Msg, opGetKey+": ") {
		t.Errorf("err = %v, want it to name %s", err, opGetKey)
	}
}

// TestDiskEncryptionDefaultPaced: the reads draw from the buckets the
// actions declare for these APIs, per account and region.
func TestDiskEncryptionDefaultPaced(t *testing.T) {
	t.Parallel()
	for _, op := range []string{opStatus, opGetKey} {
		if _, ok := DocumentedRates()[op]; !ok {
			t.Errorf("no documented rate for %s", op)
		}
	}
	b := setup(t, func(c *Config) {
		c.Limiter = action.NewRateLimiter(action.Rates{opStatus: {PerSecond: 10, Burst: 1}})
	})
	start := time.Now()
	for range 4 {
		if _, _, err := b.p.DiskEncryptionDefault(context.Background(), account, "cn-wulanchabu"); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 280*time.Millisecond {
		t.Errorf("4 status reads in %v at 10/s: not paced", d)
	}
}
