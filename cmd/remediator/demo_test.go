package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestDemo runs the demo command itself and checks every fixture's outcome
// against testdata/events/README.md.
func TestDemo(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"demo", "--quiet", "--timeout", "3m",
		"--events", "../../testdata/events", "--rules", "../../testdata/rules/demo", "--seed", "../../testdata/cloudsim/demo.yaml"}, &out, &errb)
	if code != 0 {
		t.Fatalf("demo exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
	checkDemoTable(t, out.String())
}

// checkDemoTable checks the demo's table and summary against the outcomes
// testdata/events/README.md gives for the demo's fixtures.
func checkDemoTable(t *testing.T, out string) {
	t.Helper()
	want := map[string][2]string{
		"c2a7f1e4-6f0b-4d8e-9a51-0a1b2c3d4e01":   {"remediated", "-"},
		"c2a7f1e4-6f0b-4d8e-9a51-0a1b2c3d4e02":   {"already_compliant", "-"},
		"finding-2026-11-20-0001":                {"remediated", "-"},
		"c2a7f1e4-6f0b-4d8e-9a51-0a1b2c3d4e04":   {"no_match", "-"},
		"c2a7f1e4-6f0b-4d8e-9a51-0a1b2c3d4e05":   {"no_match", "-"},
		"c2a7f1e4-6f0b-4d8e-9a51-0a1b2c3d4e06":   {"dead_lettered", "not_found"},
		"finding-2026-11-20-0002":                {"dead_lettered", "invalid_params"},
		"finding-2026-11-20-0008":                {"awaiting_approval", "-"}, // disable_key requires approval
		"finding-2026-11-20-0009":                {"already_compliant", "-"},
		"45ef4dewq-6f0b-4d8e-9a51-actiontrail10": {"remediated", "-"},
		"finding-2026-11-20-0011":                {"already_compliant", "-"},
		"finding-2026-11-20-0012":                {"remediated", "-"},
		"finding-2026-11-20-0013":                {"already_compliant", "-"},
		"finding-2026-11-20-0014":                {"remediated", "-"},
		"finding-2026-11-20-0015":                {"already_compliant", "-"},
		"cfg-2026-11-20-0016":                    {"no_match", "-"},
		"cfg-2026-11-20-0017":                    {"no_match", "-"},
		"45ef4dewq-6f0b-4d8e-9a51-actiontrail18": {"no_match", "-"},
	}
	rows := 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) != 6 || f[0] == "EVENT" {
			continue
		}
		rows++
		w, ok := want[f[0]]
		if !ok {
			t.Errorf("unexpected row %q", line)
			continue
		}
		if f[4] != w[0] || f[5] != w[1] {
			t.Errorf("event %s: outcome %s reason %s, want %s %s", f[0], f[4], f[5], w[0], w[1])
		}
	}
	if rows != len(want) {
		t.Errorf("%d rows, want %d\n%s", rows, len(want), out)
	}
	if !strings.Contains(out, "18 events, 5 cloud writes") {
		t.Errorf("summary line missing or wrong:\n%s", out)
	}
}
