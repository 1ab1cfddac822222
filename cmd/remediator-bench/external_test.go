package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
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
