// Package deploy holds no code: it is the home of the deployment files
// (Kubernetes kustomize base and overlays, NATS cluster configuration,
// JetStream definitions, least-privilege cloud policies, the Grafana
// dashboard and the Prometheus alert rules) and of the tests that check
// them, the repository's Dockerfile and .dockerignore included.
package deploy
