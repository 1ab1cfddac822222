package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/embedded"
	"github.com/remediator/remediator/worker/streams"
)

const (
	demoProject = "0b5a7f3c2d8e4b1a9c6d5e4f3a2b1c0d"
	demoKeyOff  = "0d0466b0-e727-4d9c-b35d-f84bb474a37f"
)

func startChild(t *testing.T, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "REMEDIATOR_TEST_MAIN=1", "HUAWEICLOUD_SDK_AK=", "HUAWEICLOUD_SDK_SK=")
	var stderr syncBuffer
	cmd.Stderr, cmd.Stdout = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd, &stderr
}

// TestRunSIGTERMWithCallInFlight runs `remediator run` as a real process
// against a NATS server and the simulator, sends SIGTERM while the
// enable-key-rotation call is in flight, and checks the call completed, the
// message was acked, and the process exited 0.
func TestRunSIGTERMWithCallInFlight(t *testing.T) {
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
	sim.SetChaos(cloudsim.Chaos{Latency: 700 * time.Millisecond, Seed: 1})
	srv := startSim(t, sim)

	cmd, logs := startChild(t, "run", "--nats-url", ns.ClientURL(), "--cloud-endpoint", srv.URL(), "--shutdown-timeout", "10s")
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	waitFor(t, "the worker's consumer", func() bool {
		_, err := js.Consumer(context.Background(), "REMEDIATION_EVENTS", "remediator")
		return err == nil
	})
	raws, err := events.ReadFixtures("../../testdata/events/01-huawei-cts-rotation-disabled.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := streams.Publish(context.Background(), js, worker.DefaultConfig().Streams(), raws[0], events.Binary); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the write call in flight", func() bool {
		for _, c := range sim.Calls() {
			if c.Op == "kms.enable-key-rotation" && !c.Done {
				return true
			}
		}
		return false
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("remediator run after SIGTERM: %v\n%s", err, logs.String())
	}
	if key, _ := sim.Key(demoProject, demoKeyOff); !key.Rotation {
		t.Errorf("rotation still off\n%s", logs.String())
	}
	st, _ := js.Stream(context.Background(), "REMEDIATION_EVENTS")
	info, _ := st.Info(context.Background())
	if info.State.Msgs != 0 {
		t.Errorf("%d messages left in the work queue: the in-flight message was not acked", info.State.Msgs)
	}
	assertDecisionLogged(t, logs.String(), raws[0].ID, "remediated")
	if strings.Contains(logs.String(), cloudsim.DemoSecretKey) {
		t.Error("the secret key appears in the logs")
	}
}

// assertDecisionLogged finds the JSON decision line for an event.
func assertDecisionLogged(t *testing.T, logs, eventID, outcome string) {
	t.Helper()
	for _, line := range strings.Split(logs, "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "decision" {
			continue
		}
		if rec["event_id"] == eventID && rec["outcome"] == outcome {
			for _, f := range []string{"rule", "action", "reason"} {
				if _, ok := rec[f]; !ok {
					t.Errorf("decision line has no %s field: %s", f, line)
				}
			}
			return
		}
	}
	t.Errorf("no decision line for %s with outcome %s in:\n%s", eventID, outcome, logs)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
