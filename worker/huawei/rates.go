package huawei

import "github.com/remediator/remediator/worker/action"

// DocumentedRates are the rates the worker paces Huawei Cloud calls at by
// default, per account and region:
//   - KMS: 20 calls a second per user, shared by all its key-management
//     APIs (DEW API reference, "Constraints" and "API Overview": single
//     user 20/s, shared flow control), so "kms" is one bucket;
//   - EVS: Huawei publishes no rate for the default-encryption APIs; 10 a
//     second per API is chosen here, well under what the API gateway's
//     throttling replies have shown.
//
// Agency credentials (IAM) are cached for their lifetime and not paced.
func DocumentedRates() action.Rates {
	return action.Rates{
		"kms":       {PerSecond: 20, Burst: 20},
		opEVSStatus: {PerSecond: 10, Burst: 10},
		opEVSGetKey: {PerSecond: 10, Burst: 10},
		opEVSUpdate: {PerSecond: 10, Burst: 10},
	}
}
