package main

import (
	"context"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/alibaba"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/huawei"
)

// simActions builds every provider's actions against the simulator at
// endpoint with its demo credentials, as `remediator run --cloud-endpoint`
// does when no credentials are given, paced at rates (nil: not at all).
// Both providers' actions are registered: the built-in rules name them.
func simActions(endpoint string, rates action.Rates) (*action.Registry, error) {
	hcfg := huawei.Config{Endpoint: endpoint, Credentials: huawei.Credentials{AccessKey: cloudsim.DemoAccessKey, SecretKey: cloudsim.DemoSecretKey}}
	acfg := alibaba.Config{Endpoint: endpoint, MetadataEndpoint: endpoint,
		Credentials: alibaba.Credentials{AccessKeyID: cloudsim.DemoAccessKey, AccessKeySecret: cloudsim.DemoSecretKey}}
	if len(rates) > 0 {
		lim := action.NewRateLimiter(rates)
		hcfg.Limiter, acfg.Limiter = lim, lim
	}
	return action.NewRegistry(append(huawei.New(hcfg).Actions(), alibaba.New(acfg).Actions()...)...)
}

// startBenchWorker runs a worker with the built-in rules on env until the
// returned func, which waits for it to stop. The worker's goroutines carry
// the profile label part=worker.
func startBenchWorker(ctx context.Context, env *benchEnv, cfg worker.Config, rates action.Rates, rec audit.Recorder) (func(), error) {
	reg, err := simActions(env.url, rates)
	if err != nil {
		return nil, err
	}
	set, err := rules.Builtin(reg)
	if err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	labelled("worker", func() {
		var w *worker.Worker
		if w, err = worker.New(wctx, cfg, worker.Deps{JetStream: env.js, Rules: set, Actions: reg, Recorder: rec}); err == nil {
			go func() { done <- w.Run(wctx) }()
		}
	})
	if err != nil {
		cancel()
		return nil, err
	}
	return func() { cancel(); <-done }, nil
}
