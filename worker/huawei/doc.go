// Package huawei holds the Huawei Cloud corrective actions, built on the
// official Go SDK (github.com/huaweicloud/huaweicloud-sdk-go-v3) with its
// AK/SK request signing.
//
// Endpoints default to each region's public endpoint
// (https://kms.<region>.myhuaweicloud.com) and can be overridden for every
// service at once, which is how the worker talks to the cloud simulator.
// Credentials come from Config (normally HUAWEICLOUD_SDK_AK,
// HUAWEICLOUD_SDK_SK and HUAWEICLOUD_SDK_SECURITY_TOKEN); they never appear
// in logs or errors.
//
// SDK errors are mapped to action error classes in one table (errors.go).
package huawei
