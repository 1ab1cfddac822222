package alibaba

import "github.com/remediator/remediator/worker/action"

// DocumentedRates are the rates the worker paces Alibaba Cloud calls at by
// default, per account and region. ECS throttles each API separately per
// account and region, and shows the thresholds only in each account's
// Quota Center ("API throttling" in the ECS documentation): no figure is
// published for these four APIs. 10 calls a second per API is chosen here;
// set the account's own figures with --rate.
func DocumentedRates() action.Rates {
	r := action.Rate{PerSecond: 10, Burst: 10}
	return action.Rates{opStatus: r, opGetKey: r, opModify: r, opReset: r}
}
