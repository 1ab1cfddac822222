// Package deploy holds no code: it is the home of the deployment files
// (Kubernetes kustomize base and overlays, NATS cluster configuration,
// JetStream definitions, least-privilege cloud policies) and of the test
// that checks them.
package deploy
