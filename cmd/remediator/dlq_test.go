package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/zap"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/embedded"
	"github.com/remediator/remediator/worker/streams"
)

// TestDLQAndAuditCommands drives dlq list/show/redrive/purge and audit
// tail against a real server with a running worker.
func TestDLQAndAuditCommands(t *testing.T) {
	t.Parallel()
	ns, err := embedded.Start(embedded.Options{StoreDir: t.TempDir(), Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	seed, err := cloudsim.LoadSeed("../../testdata/cloudsim/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sim := cloudsim.New(seed)
	srv := startSim(t, sim)
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	reg, err := buildActions(providerConfig{cloudEndpoint: srv.URL()}, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	set, err := loadRules(reg, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	cfg := worker.DefaultConfig()
	cfg.MaxDeliver, cfg.RetryBase, cfg.ThrottleBase, cfg.RetryMax = 2, 10*time.Millisecond, 10*time.Millisecond, 50*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	_, done, err := startWorker(ctx, cfg, worker.Deps{JetStream: js, Rules: set, Actions: reg, Recorder: audit.NewStream(js, cfg.AuditConfig())})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-done })

	sim.Inject(cloudsim.Fault{Op: "kms.enable-key-rotation", Count: 100, Status: 429, Code: "APIGW.0308"})
	raws, err := events.ReadFixtures("../../testdata/events/01-huawei-cts-rotation-disabled.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := streams.Publish(ctx, js, cfg.Streams(), raws[0], events.Structured); err != nil {
		t.Fatal(err)
	}
	if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: "remediation.events.bad", Data: []byte("not json")}); err != nil {
		t.Fatal(err)
	}
	cli := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(context.Background(), append(args, "--nats-url", ns.ClientURL()), &out, &errb); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out.String(), errb.String())
		}
		return out.String()
	}
	waitFor(t, "two dead letters", func() bool { return strings.Contains(cli("dlq", "list"), "2 dead letters") })
	out := cli("dlq", "list", "--reason", "exhausted")
	if !strings.Contains(out, "1 dead letters") || !strings.Contains(out, "APIGW.0308") || !strings.Contains(out, raws[0].ID) {
		t.Fatalf("dlq list --reason exhausted:\n%s", out)
	}
	seq := regexp.MustCompile(`(?m)^(\d+)\s`).FindStringSubmatch(out)[1]
	if out := cli("dlq", "show", seq); !strings.Contains(out, "Remediator-Reason: exhausted") || !strings.Contains(out, `"trace_name": "disableKeyRotation"`) {
		t.Errorf("dlq show:\n%s", out)
	}
	if out := cli("dlq", "redrive", "--reason", "exhausted", "--dry-run"); !strings.Contains(out, "would redrive "+seq) {
		t.Errorf("dry run:\n%s", out)
	}
	if k, _ := sim.Key(demoProject, demoKeyOff); k.Rotation {
		t.Fatal("rotation on before the redrive")
	}
	resetFaults(t, srv.URL())
	if out := cli("dlq", "redrive", "--reason", "exhausted"); !strings.Contains(out, "redriven 1") {
		t.Fatalf("redrive:\n%s", out)
	}
	waitFor(t, "the redriven event to be remediated", func() bool { k, _ := sim.Key(demoProject, demoKeyOff); return k.Rotation })
	if out := cli("dlq", "list"); !strings.Contains(out, "1 dead letters") || !strings.Contains(out, "invalid_event") {
		t.Errorf("after redrive:\n%s", out)
	}
	waitFor(t, "the remediated audit record", func() bool {
		return strings.Contains(cli("audit", "tail", "-n", "3"), "remediated")
	})
	out = cli("audit", "tail", "-n", "3")
	if !strings.Contains(out, "dead_lettered") || !strings.Contains(out, "reason=exhausted") || !strings.Contains(out, "[rotation disabled -> rotation enabled]") {
		t.Errorf("audit tail:\n%s", out)
	}
	if out := cli("dlq", "purge"); !strings.Contains(out, "purged 1") {
		t.Errorf("purge:\n%s", out)
	}
}

// resetFaults clears the simulator's scripted faults through its admin API
// (reset also restores the seeded state, which is what the test wants).
func resetFaults(t *testing.T, url string) {
	t.Helper()
	resp, err := httpPost(url + "/_sim/reset")
	if err != nil || resp != 204 {
		t.Fatalf("reset: %d %v", resp, err)
	}
}
