package huawei

import "github.com/remediator/remediator/worker/action"

// DocumentedRates are the rates the worker paces Huawei Cloud calls at by
// default, per account and region. A quota of Q calls a second is paced
// at Q-B a second with a burst of B, so no window of one second holds more
// than Q calls even after an idle spell:
//   - KMS: 20 calls a second per user, shared by all its key-management
//     APIs (DEW API reference, "Constraints" and "API Overview": single
//     user 20/s, shared flow control), so "kms" is one bucket: 18/s, burst 2;
//   - EVS: Huawei publishes no rate for the default-encryption APIs; a
//     quota of 10 a second per API is assumed here: 9/s, burst 1.
//
// Agency credentials (IAM) are cached for their lifetime and not paced.
//
// The KMS bucket is the service's; the EVS rates are the ones the EVS
// action declares for its calls (see its Ops).
func DocumentedRates() action.Rates {
	return action.OpRates((&Provider{}).Actions()).Merge(action.Rates{"kms": {PerSecond: 18, Burst: 2}})
}

// evsRate paces each EVS default-encryption API (see DocumentedRates).
var evsRate = action.Rate{PerSecond: 9, Burst: 1}
