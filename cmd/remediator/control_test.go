package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/embedded"
	"github.com/remediator/remediator/worker/guard"
	"github.com/remediator/remediator/worker/streams"
)

// TestPauseAndResume: a paused consumer hands no event to the worker, the
// event waits without spending attempts, and resuming lets it through.
func TestPauseAndResume(t *testing.T) {
	t.Parallel()
	ns, err := embedded.Start(embedded.Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	seed, _ := cloudsim.LoadSeed("../../testdata/cloudsim/demo.yaml")
	sim := cloudsim.New(seed)
	srv, _ := cloudsim.Start("127.0.0.1:0", sim)
	t.Cleanup(func() { _ = srv.Close(context.Background()) })
	nc, _ := ns.Connect()
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	reg, _ := buildActions(providerConfig{cloudEndpoint: srv.URL()}, zap.NewNop())
	set, _ := loadRules(reg, nil, false)
	cfg := worker.DefaultConfig()
	ctx, cancel := context.WithCancel(context.Background())
	_, done, err := startWorker(ctx, cfg, worker.Deps{JetStream: js, Rules: set, Actions: reg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-done })
	cli := func(args ...string) string {
		var out, errb bytes.Buffer
		if c := run(context.Background(), append(args, "--nats-url", ns.ClientURL()), &out, &errb); c != 0 {
			t.Fatalf("%v: %s %s", args, out.String(), errb.String())
		}
		return out.String()
	}
	if out := cli("control", "pause"); !strings.Contains(out, "paused until") {
		t.Fatalf("pause: %s", out)
	}
	raws, _ := events.ReadFixtures("../../testdata/events/01-huawei-cts-rotation-disabled.json")
	if _, err := streams.Publish(ctx, js, cfg.Streams(), raws[0], events.Structured); err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond)
	if n := len(sim.Calls()); n != 0 {
		t.Fatalf("%d cloud calls while paused", n)
	}
	if out := cli("control", "status"); !strings.Contains(out, "paused") || !strings.Contains(out, "1 events waiting") {
		t.Errorf("status: %s", out)
	}
	cli("control", "resume")
	waitFor(t, "the event after resume", func() bool { k, _ := sim.Key(demoProject, demoKeyOff); return k.Rotation })
	if out := cli("control", "status"); !strings.HasPrefix(out, "running; 0 events waiting") {
		t.Errorf("status after resume: %s", out)
	}
	if out := cli("control", "circuits"); !strings.Contains(out, "0 open circuits") {
		t.Errorf("circuits: %s", out)
	}
	kv, err := js.KeyValue(ctx, cfg.ControlBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Create(ctx, guard.CircuitKey("some-rule"), []byte(`{"rule":"some-rule"}`)); err != nil {
		t.Fatal(err)
	}
	if out := cli("control", "circuits"); !strings.Contains(out, "1 open circuits") || !strings.Contains(out, "some-rule") {
		t.Errorf("circuits: %s", out)
	}
	if out := cli("control", "resume", "some-rule"); !strings.Contains(out, "circuit of some-rule closed") {
		t.Errorf("resume rule: %s", out)
	}
	if _, err := kv.Get(ctx, guard.CircuitKey("some-rule")); err == nil {
		t.Error("the circuit key is still there")
	}
}
