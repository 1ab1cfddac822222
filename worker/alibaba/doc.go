// Package alibaba holds the Alibaba Cloud corrective actions, built on the
// official Go SDK (github.com/aliyun/alibaba-cloud-sdk-go/services/ecs).
//
// The account-level EBS default-encryption key is set with
// ModifyDiskDefaultKMSKeyId and reset to the service key with
// ResetDiskDefaultKMSKeyId. Alibaba documents that only the Alibaba Cloud
// account itself (not a RAM user) may call them; a refusal of a RAM
// identity is a permanent permission_denied with that explanation.
//
// Requests go over HTTPS to each region's public endpoint unless an
// endpoint override (the simulator) is configured. SDK retries are off:
// the worker decides retries from the error table (errors.go). Errors never
// carry credentials: the SDK's transport errors include the signed URL
// (AccessKeyId and Signature), so their text is never used.
package alibaba
