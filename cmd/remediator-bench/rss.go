package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/embedded"
	"github.com/remediator/remediator/worker/streams"
)

// benchRSS measures the worker alone: a backlog of n compliant events is
// published to a server in this process, then `remediator run`, built
// from this module (buildRemediator), drains it as a child process whose
// peak RSS (VmHWM) is read from /proc.
func benchRSS(ctx context.Context, o benchOptions, n int) (string, time.Duration, error) {
	dir, err := os.MkdirTemp("", "remediator-rss-")
	if err != nil {
		return "", 0, err
	}
	defer os.RemoveAll(dir)
	bin, err := buildRemediator(ctx, dir)
	if err != nil {
		return "", 0, err
	}
	srv, err := embedded.Start(embedded.Options{StoreDir: dir, Listen: "127.0.0.1:0"})
	if err != nil {
		return "", 0, err
	}
	defer srv.Shutdown()
	env, done, err := newBenchEnv(o.resources, o.resources)
	if err != nil {
		return "", 0, err
	}
	defer done()
	nc, err := srv.Connect()
	if err != nil {
		return "", 0, err
	}
	defer nc.Close()
	js, _ := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4000))
	cfg := worker.DefaultConfig()
	if _, err := streams.EnsureTopology(ctx, js, cfg.Streams()); err != nil {
		return "", 0, err
	}
	raws := make([]events.Raw, n)
	for i := range raws {
		raws[i] = benchEvent(i, env.keys[i%len(env.keys)])
	}
	if err := publishAll(ctx, js, cfg, raws); err != nil {
		return "", 0, err
	}
	cmd := exec.CommandContext(ctx, bin, "run", "--nats-url", srv.ClientURL(), "--cloud-endpoint", env.url,
		"--concurrency", fmt.Sprint(o.concurrency), "--log-format", "json")
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return "", 0, err
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	st, _ := js.Stream(ctx, cfg.Stream)
	for {
		info, err := st.Info(ctx)
		if err == nil && info.State.Msgs == 0 {
			break
		}
		if time.Since(start) > 20*time.Minute {
			return "", 0, fmt.Errorf("the backlog did not drain")
		}
		time.Sleep(200 * time.Millisecond)
	}
	took := time.Since(start)
	return vmHWM(strconv.Itoa(cmd.Process.Pid)), took, nil
}

// buildRemediator builds the remediator command into dir with the go tool,
// as `go run` would, so the child measured is the product binary. The
// package is named by import path: the bench runs from within the module.
func buildRemediator(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "remediator")
	return bin, goBuild(ctx, "-o", bin, "github.com/remediator/remediator/cmd/remediator")
}
