package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestExternalDrainsBacklog runs the external bench small: nats-server and
// remediator, built from this module, run as processes; the ceiling and
// the worker report positive rates, and the worker settled every event
// (the work queue empty, an audit record each, no dead letter).
func TestExternalDrainsBacklog(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds nats-server and cmd/remediator")
	}
	var out, errb bytes.Buffer
	args := []string{"external", "--events", "500", "--rounds", "1", "--concurrency-list", "4", "--nats-cli", "off"}
	if code := run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errb.String(), out.String())
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^round 1/1, concurrency 4: ceiling [1-9][0-9]*/s, nats bench -, worker [1-9][0-9]*/s \([0-9]+% of ceiling\); ` +
			`worker settled 500 events: 0 left, 500 audit records, 0 dead letters$`),
		regexp.MustCompile(`(?m)^concurrency\s+ceiling msg/s\s+nats bench msg/s\s+worker events/s\s+worker/ceiling`),
		regexp.MustCompile(`(?m)^4\s+[1-9][0-9]*\s+-\s+[1-9][0-9]*\s+[0-9]+\.[0-9]{2}\s+-\s+[1-9][0-9]*µs\s+[0-9]+µs\s+[0-9]+µs\s+[0-9]+µs\s+[1-9][0-9]* kB$`),
		regexp.MustCompile(`(?m)^nats bench: skipped \(--nats-cli off\)$`),
	} {
		if !want.MatchString(out.String()) {
			t.Errorf("output lacks %s:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "latency") || strings.Contains(out.String(), "million") || strings.Contains(out.String(), "cluster") {
		t.Errorf("a part other than drain ran without --only:\n%s", out.String())
	}
}

// TestProcCPUReadsStat: the CPU time read from /proc/<pid>/stat grows with
// work done and agrees with getrusage to a few clock ticks.
func TestProcCPUReadsStat(t *testing.T) {
	before, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); time.Since(start) < 100*time.Millisecond; {
	}
	after, err := procCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after-before < 50*time.Millisecond {
		t.Errorf("100 ms of spinning counted %s", after-before)
	}
	if self := usageNow().cpu; after > self+5*clockTick || after < self-100*time.Millisecond {
		t.Errorf("/proc says %s, getrusage %s", after, self)
	}
}

// externalRun runs `remediator-bench external` with args and returns its
// output, failing the test on an exit other than 0.
func externalRun(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(context.Background(), append([]string{"external"}, args...), &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errb.String(), out.String())
	}
	return out.String()
}

func wantLines(t *testing.T, out string, res ...string) {
	t.Helper()
	for _, re := range res {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("output lacks %s:\n%s", re, out)
		}
	}
}

// TestExternalLatency: the latency part offers events to a worker process
// and reports p50/p99 from stored timestamps; every event has its record
// and none of the drain part runs.
func TestExternalLatency(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds nats-server and cmd/remediator")
	}
	out := externalRun(t, "--only", "latency", "--rounds", "1", "--rate", "100", "--latency-duration", "1s", "--concurrency", "4")
	wantLines(t, out,
		`(?m)^round 1/1, latency: p50 [0-9.]+ms, p99 [0-9.]+ms, max [0-9.]+ms; 100 events offered at [0-9]+/s, the worker\(s\) busy [0-9.]+ cores, waits [0-9]+ for a lease [0-9]+ for a read, [0-9]+ retries, load average [0-9. ]+; 0 left, 100 audit records, 0 dead letters$`,
		`(?m)^latency: remediator run \(--concurrency 4\) against one nats-server process .* 100 no-write events/s offered for 1s; 1 round\(s\)`,
		`(?m)^[0-9.]+ms\s+[0-9.]+ms\s+[0-9.]+ms\s+(9[0-9]|1[01][0-9])\s+<= 25\.00ms$`)
	if strings.Contains(out, "ceiling") {
		t.Errorf("the drain part ran:\n%s", out)
	}
}

// TestExternalMillion: the million part drains the baseline and the large
// backlog and reports each one's rate and the worker's peak RSS against
// the targets.
func TestExternalMillion(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds nats-server and cmd/remediator")
	}
	out := externalRun(t, "--only", "million", "--rounds", "1", "--million-baseline", "200", "--million-events", "600", "--concurrency", "4")
	wantLines(t, out,
		`(?m)^million 1/2: 200 events \(published in .*\): worker [1-9][0-9]*/s, peak RSS [1-9][0-9]* kB; 0 left, 200 audit records, 0 dead letters$`,
		`(?m)^million 2/2: 600 events \(published in .*\): worker [1-9][0-9]*/s, peak RSS [1-9][0-9]* kB; 0 left, 600 audit records, 0 dead letters$`,
		`(?m)^200\s+1\s+[1-9][0-9]*\s+[1-9][0-9]* MiB\s+[1-9][0-9]*µs\s+[1-9][0-9]*µs$`,
		`(?m)^600\s+1\s+[1-9][0-9]*\s+[1-9][0-9]* MiB\s+[1-9][0-9]*µs\s+[1-9][0-9]*µs$`,
		`(?m)^600-event rate / 200-event median rate: [0-9.]+ \(target >= 0\.90: (met|NOT met)\); largest peak RSS [1-9][0-9]* MiB \(target <= 128 MiB: (met|NOT met)\)$`)
}

// TestExternalCluster: three nats-server processes form a cluster with
// R3 streams, a worker per node drains the backlog and takes events at
// the offered rate, every event settled once, beside one worker on one
// server.
func TestExternalCluster(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("starts a three-node cluster and four workers")
	}
	out := externalRun(t, "--only", "cluster", "--rounds", "1", "--events", "300", "--rate", "100", "--latency-duration", "1s", "--concurrency", "4")
	wantLines(t, out,
		`(?m)^round 1/1, cluster: one worker on one server: drain [1-9][0-9]*/s, p50 [0-9.]+ms p99 [0-9.]+ms; 3 workers on 3 nodes \(R3\): `+
			`drain [1-9][0-9]*/s \(0 left, 300 audit records, 0 dead letters\), p50 [0-9.]+ms p99 [0-9.]+ms \(0 left, 100 audit records, 0 dead letters; busy [0-9.]+ cores, waits [0-9]+ for a lease [0-9]+ for a read, [0-9]+ retries\); load average [0-9. ]+$`,
		`(?m)^one worker, one nats-server \(R1\)\s+[1-9][0-9]*\s+[1-9][0-9]*µs\s+[1-9][0-9]*µs\s+[0-9.]+ms\s+[0-9.]+ms\s+[1-9][0-9]* kB$`,
		`(?m)^3 workers, 3-node cluster \(R3\)\s+[1-9][0-9]*\s+[1-9][0-9]*µs\s+[1-9][0-9]*µs\s+[0-9.]+ms\s+[0-9.]+ms\s+[1-9][0-9]* kB$`,
		`(?m)^cluster/single drain rate: [0-9.]+ `)
}

func TestExternalUnknownPart(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"external", "--only", "drain,frobnicate"}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errb.String(), `--only: no part "frobnicate"`) {
		t.Errorf("stderr = %q", errb.String())
	}
}

// TestExternalWrite: the write part drains events that each need one
// write through a worker process, the simulator takes one write per event
// in four calls, every event is settled once, and the profiled drain
// splits the worker's CPU into the SDK's and the rest.
func TestExternalWrite(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds nats-server and cmd/remediator")
	}
	out := externalRun(t, "--only", "write", "--rounds", "1", "--write-events", "50", "--write-profile-for", "1s", "--concurrency", "4")
	wantLines(t, out,
		`(?m)^round 1/1, write: [1-9][0-9]* events/s, 50 writes in 200 calls; CPU/event: worker [1-9][0-9]*µs, simulator [1-9][0-9]*µs, server [1-9][0-9]*µs; 0 left, 50 audit records, 0 dead letters$`,
		`(?m)^write: remediator run \(--concurrency 4, --pacing=false\) draining 50 events that each need one write .*; 1 round\(s\)`,
		`(?m)^[1-9][0-9]*\s+50\s+4\.00\s+[1-9][0-9]*µs\s+[0-9]+µs\s+[0-9]+µs\s+[1-9][0-9]*µs\s+[1-9][0-9]*µs\s+[1-9][0-9]* kB$`,
		`(?m)^worker SDK / rest: .*\([1-9][0-9]* events at [1-9][0-9]*/s, [1-9][0-9]* samples, --write-cpuprofile FILE keeps it\): SDK [0-9]+% .*, rest [0-9]+% `)
	if strings.Contains(out, "ceiling") {
		t.Errorf("the drain part ran:\n%s", out)
	}
}
