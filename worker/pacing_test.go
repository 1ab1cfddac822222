package worker_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/cloudsim"
)

// TestPacingKeepsUnderTheQuota: the simulator throttles KMS past a quota
// per project, as Huawei does; a worker pacing at that rate spends few
// calls on throttling and dead-letters nothing, while one that does not
// pace is throttled far more often.
func TestPacingKeepsUnderTheQuota(t *testing.T) {
	t.Parallel()
	const n, perSecond = 30, 60 // 30 events x 4 KMS calls at 60/s: about 2s
	var seed strings.Builder
	seed.WriteString("huawei:\n  projects:\n    " + project + ":\n      region: cn-north-4\n      kms_keys:\n")
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%08x-0000-4000-8000-00000000%04x", i+1, i+1)
		fmt.Fprintf(&seed, "        - {id: %s, state: enabled, rotation: false}\n", keys[i])
	}
	quota := map[string]cloudsim.Quota{"kms": {PerSecond: perSecond}}
	run := func(lim *action.RateLimiter) (throttled, calls, dead int) {
		b := setupWith(t, seed.String(), lim, func(c *worker.Config) { c.Concurrency, c.MaxDeliver = 8, 8 })
		b.sim.SetChaos(cloudsim.Chaos{Quotas: quota})
		for i, k := range keys {
			b.publish(ctsEvent(fmt.Sprintf("paced-%d", i), k), events.Structured)
		}
		for _, d := range b.waitFinal(n) {
			if d.Outcome == audit.DeadLettered {
				dead++
			}
		}
		for _, c := range b.sim.Calls() {
			calls++
			if c.Status == 429 {
				throttled++
			}
		}
		return throttled, calls, dead
	}
	// Paced as the documented defaults are: Q-B a second, burst B, so no
	// second holds more than Q.
	throttled, calls, dead := run(action.NewRateLimiter(action.Rates{"kms": {PerSecond: perSecond - 6, Burst: 6}}))
	t.Logf("paced: %d of %d calls throttled, %d dead-lettered", throttled, calls, dead)
	if dead != 0 || float64(throttled) > 0.05*float64(calls) {
		t.Errorf("paced at the quota: %d of %d calls throttled and %d dead-lettered, want under 5%% and none", throttled, calls, dead)
	}
	start := time.Now()
	unpaced, ucalls, _ := run(nil)
	rate := float64(ucalls) / time.Since(start).Seconds()
	t.Logf("not paced: %d of %d calls throttled, %.0f calls/s", unpaced, ucalls, rate)
	if rate < 2*perSecond {
		// On a machine this slow (the race detector, a loaded CI runner)
		// the unpaced worker barely outruns the quota: whether it bites
		// says nothing about pacing.
		t.Logf("the unpaced run made %.0f calls/s, under twice the quota: not comparing", rate)
		return
	}
	if unpaced <= 2*throttled || unpaced < 10 {
		t.Errorf("without pacing %d calls were throttled, with it %d: the quota does not bite", unpaced, throttled)
	}
}
