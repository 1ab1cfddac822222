// Package cloudsim is a stateful stand-in for the cloud APIs remediator
// calls, used by the demo, the tests and `remediator cloudsim`.
//
// It serves Huawei Cloud KMS v1.0 (POST /v1.0/{project_id}/kms/...) the
// way the real service answers the official Go SDK: it verifies the SDK's
// AK/SK signature (SDK-HMAC-SHA256), checks the project and the key id
// format, keeps per-project key state (state, rotation, origin, default
// flag), and answers with the documented bodies and status codes, including
// the API gateway's throttling body, and lists a project's keys a page at
// a time (list-keys, see huawei_kms_list.go). Beside it, on the same
// listener: the Huawei EVS v5 default-encryption API, Huawei IAM's agency
// security tokens, the Alibaba ECS RPC API (the four default-disk-key
// actions), STS AssumeRole and the ECS instance metadata service's RAM role
// credentials. `remediator cloudsim --help` lists every path.
//
// Seeds can generate thousands of keys in a few lines (SeedGenerate), with
// deterministic ids (GeneratedKeyID).
//
// Tests and operators shape its behaviour with scripted faults (the next N
// calls to an operation fail with a given status and code, optionally
// after a delay), random chaos (throttling, 5xx and timeout rates, added
// latency) and read its state and a log of every call, so a test can count
// writes. Admin endpoints under /_sim/ expose the same over HTTP.
//
// Fidelity limits: the simulator does not model IAM policies, quotas or key
// material; error codes the public documentation does not name are chosen
// to be plausible and are marked in the code.
package cloudsim
