package alibaba

import "github.com/remediator/remediator/worker/action"

// DocumentedRates are the rates the worker paces Alibaba Cloud calls at by
// default, per account and region: the rates the actions declare for
// their calls (see their Ops).
func DocumentedRates() action.Rates {
	return action.OpRates((&Provider{}).Actions())
}

// ecsRate paces each ECS API. ECS throttles each API separately per
// account and region, and shows the thresholds only in each account's
// Quota Center ("API throttling" in the ECS documentation): no figure is
// published for these four APIs. A quota of 10 calls a second per API is
// assumed here, paced at 9 a second with a burst of 1 (no second holds
// more than 10); set the account's own figures with --rate.
var ecsRate = action.Rate{PerSecond: 9, Burst: 1}
