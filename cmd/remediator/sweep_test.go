package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/streams"
	"github.com/remediator/remediator/worker/sweep"
)

const demoHuaweiAccount = "5f1e2d3c4b5a69788796a5b4c3d2e1f0"

// sweepOnce runs `remediator sweep` as a process and returns its report
// (-o json) and its stderr.
func sweepOnce(t *testing.T, args ...string) (*sweep.Report, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"sweep", "-o", "json", "--progress", "1h"}, args...)...)
	cmd.Env = append(os.Environ(), "REMEDIATOR_TEST_MAIN=1", "HUAWEICLOUD_SDK_AK=", "HUAWEICLOUD_SDK_SK=")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sweep %v: %v\n%s", args, err, stderr.String())
	}
	var rep sweep.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("sweep -o json: %v\n%s", err, out)
	}
	return &rep, stderr.String()
}

// demoEstate starts nats-server as its own process and the simulator
// with the demo's state.
func demoEstate(t *testing.T) (*natsProc, *cloudsim.Simulator, *cloudsim.Server) {
	t.Helper()
	ns := startNATSProcess(t, natsProcOptions{})
	seed, err := cloudsim.LoadSeed("../../testdata/cloudsim/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sim := cloudsim.New(seed)
	return ns, sim, startSim(t, sim)
}

func countStatus(rep *sweep.Report, st sweep.Status) int {
	n := 0
	for _, r := range rep.Rows {
		if r.Status == st {
			n++
		}
	}
	return n
}

// TestSweepPublishRemediates: a sweep finds the seeded drift; published,
// the worker (its own process) remediates it through the rules; the next
// sweep finds nothing wrong; publishing a sweep twice stores it once, and
// publishing it again later adds no write.
func TestSweepPublishRemediates(t *testing.T) {
	t.Parallel()
	ns, sim, srv := demoEstate(t)
	common := []string{"--cloud-endpoint", srv.URL(), "--builtin", "--rules", "../../testdata/rules/demo", "--rules", waiveDisableApproval(t)}
	nc, err := ns.Connect()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	// The streams as the worker makes them, before any worker runs: the
	// sweep is published twice while nothing consumes it.
	if _, err := streams.EnsureTopology(context.Background(), js, worker.DefaultConfig().Streams()); err != nil {
		t.Fatal(err)
	}
	sweepArgs := append([]string{"--account", "huawei=" + demoHuaweiAccount, "--nats-url", ns.URL()}, common...)
	first, stderr := sweepOnce(t, append([]string{"--publish", "--id", "s1"}, sweepArgs...)...)
	if n := countStatus(first, sweep.NonCompliant); n != 6 {
		t.Fatalf("first sweep: %d non-compliant, want 6 (2 Alibaba regions, 1 EVS project, 1 key to disable, 2 keys to rotate): %+v", n, first.Rows)
	}
	if !strings.Contains(stderr, "published 6 findings (0 already") {
		t.Errorf("first sweep's stderr: %s", stderr)
	}
	if _, stderr = sweepOnce(t, append([]string{"--publish", "--id", "s1"}, sweepArgs...)...); !strings.Contains(stderr, "published 6 findings (6 already") {
		t.Errorf("sweep s1 published again: %s", stderr)
	}
	_, logs := startChild(t, append([]string{"run", "--nats-url", ns.URL(), "--pacing=false"}, common...)...)
	waitFor(t, "6 writes and an empty intake", func() bool {
		st, err := js.Stream(context.Background(), "REMEDIATION_EVENTS")
		if err != nil {
			return false
		}
		info, err := st.Info(context.Background())
		return err == nil && info.State.Msgs == 0 && sim.Writes("") == 6
	})

	second, _ := sweepOnce(t, append([]string{"--id", "s2"}, sweepArgs...)...)
	if n := countStatus(second, sweep.NonCompliant) + countStatus(second, sweep.Unknown); n != 0 {
		t.Errorf("second sweep: %d non-compliant or unknown rows: %+v\n%s", n, second.Rows, logs.String())
	}
	_, stderr = sweepOnce(t, append([]string{"--publish", "--id", "s1"}, sweepArgs...)...)
	if !strings.Contains(stderr, "published 0 findings") {
		t.Errorf("re-published sweep s1 on a compliant estate: %s", stderr)
	}
	time.Sleep(500 * time.Millisecond)
	if n := sim.Writes(""); n != 6 {
		t.Errorf("%d writes after the sweeps, want 6", n)
	}
}

// TestSweepEveryTwoReplicas: two worker processes with --sweep-every share
// the sweeping: one sweep per period between them, whose findings they
// remediate; `remediator posture` prints the last sweep's report.
func TestSweepEveryTwoReplicas(t *testing.T) {
	t.Parallel()
	ns, sim, srv := demoEstate(t)
	const every = 2 * time.Second
	args := []string{"run", "--nats-url", ns.URL(), "--pacing=false", "--cloud-endpoint", srv.URL(), "--builtin", "--rules", "../../testdata/rules/demo",
		"--rules", waiveDisableApproval(t), "--sweep-every", every.String(), "--sweep-account", "huawei=" + demoHuaweiAccount}
	a, logsA := startChild(t, args...)
	b, logsB := startChild(t, args...)
	start := time.Now()
	time.Sleep(3*every + every/2)
	// Stopped, so that no sweep finishes between reading the logs and
	// reading the posture.
	for _, c := range []*exec.Cmd{a, b} {
		_ = c.Process.Signal(syscall.SIGTERM)
		_ = c.Wait()
	}
	took := time.Since(start)

	var ids []string
	for _, logs := range []*syncBuffer{logsA, logsB} {
		for _, line := range strings.Split(logs.String(), "\n") {
			var l struct{ Msg, Sweep string }
			if json.Unmarshal([]byte(line), &l) == nil && l.Msg == "sweep_finished" {
				ids = append(ids, l.Sweep)
			}
		}
	}
	slices.Sort(ids)
	if len(ids) < 2 || len(ids) > int(took/every)+1 {
		t.Errorf("%d sweeps in %s at one every %s: %v", len(ids), took.Round(time.Millisecond), every, ids)
	}
	for i := 1; i < len(ids); i++ {
		a, errA := time.Parse("20060102T150405Z", strings.TrimPrefix(ids[i-1], "periodic-"))
		b, errB := time.Parse("20060102T150405Z", strings.TrimPrefix(ids[i], "periodic-"))
		if errA != nil || errB != nil || b.Sub(a) < every-time.Second { // ids name whole seconds
			t.Errorf("sweeps %s and %s: closer than one period", ids[i-1], ids[i])
		}
	}
	if n := sim.Writes(""); n != 6 {
		t.Errorf("%d writes, want the 6 the first sweep found\n%s\n%s", n, logsA.String(), logsB.String())
	}
	posture := exec.Command(os.Args[0], "posture", "--nats-url", ns.URL(), "-o", "json")
	posture.Env = append(os.Environ(), "REMEDIATOR_TEST_MAIN=1")
	out, err := posture.Output()
	if err != nil {
		t.Fatalf("posture: %v", err)
	}
	var rep sweep.Report
	if err := json.Unmarshal(out, &rep); err != nil {
		t.Fatalf("posture -o json: %v\n%s", err, out)
	}
	// The last sweep came after the first one's findings were remediated
	// (the disabled key is no longer one whose rotation is checked).
	if len(rep.Rows) != 13 || countStatus(&rep, sweep.Compliant) != 13 || !slices.Contains(ids, rep.ID) || rep.ID == ids[0] {
		t.Errorf("posture: sweep %s with %d rows, %d compliant; sweeps %v", rep.ID, len(rep.Rows), countStatus(&rep, sweep.Compliant), ids)
	}
}
