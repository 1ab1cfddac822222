package main

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
)

// TestBenchPrintsTable runs the no-write and drift parts small: the table
// has a row for each, the worker read compliant keys without writing and
// wrote each drifted key once (the actions reach the simulator with its
// demo credentials).
func TestBenchPrintsTable(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	args := []string{"--only", "nowrite,drift", "--events", "200", "--resources", "20", "--rounds", "1"}
	if code := run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^run \(200 events, concurrency 4\)\s+events/s\s+of ceiling`),
		regexp.MustCompile(`(?m)^worker, no write \(already compliant\)\s+[0-9]+\s.*\s0 for 20 resources \([1-9][0-9]* calls\)$`),
		regexp.MustCompile(`(?m)^200 drift events about 20 resources\s+[0-9]+\s.*\s20 for 20 resources \([1-9][0-9]* calls\)$`),
		regexp.MustCompile(`(?m)^peak RSS of the whole process .*: [0-9]+ kB$`),
	} {
		if !want.MatchString(out.String()) {
			t.Errorf("output lacks %s:\n%s", want, out.String())
		}
	}
}

// TestBenchBacklogRunsRemediator: --backlog builds the remediator binary
// and measures it draining the backlog as its own process.
func TestBenchBacklogRunsRemediator(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds cmd/remediator")
	}
	var out, errb bytes.Buffer
	args := []string{"--only", "none", "--backlog", "100", "--resources", "10"}
	if code := run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !regexp.MustCompile(`worker process alone draining a 100-event backlog \(no write\): peak RSS [0-9]+ kB`).MatchString(out.String()) {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestBenchUnknownFlagFails(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"--frobnicate"}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errb.String(), "unknown flag") {
		t.Errorf("stderr = %q", errb.String())
	}
}
