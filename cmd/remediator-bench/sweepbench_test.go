package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/remediator/remediator/worker/sweep"
)

// TestSweepBenchSmall runs the sweep bench small: `remediator sweep`,
// built from this module, runs as a process paced and not paced; each
// report agrees with the seed key by key, the calls are counted by API,
// and the paced run is set against its pacing bound.
func TestSweepBenchSmall(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds cmd/remediator")
	}
	out := benchRun(t, "sweep", "--sweep-keys", "90", "--sweep-projects", "3", "--rounds", "1")
	// 30 keys a project, none disabled, imported or a default key (every
	// 50th, 100th, 150th), 4 with rotation off (7, 14, 21, 28); 3 projects:
	// 90 rows, 12 non-compliant. A page of list-keys each, a rotation
	// status per key, a describe per key with rotation off: 35 KMS calls a
	// region, so the pacing bound is (35-2)/18 s, and 3 times that one
	// region at a time.
	calls := `calls: kms.describe-key 12, kms.get-key-rotation-status 90, kms.list-keys 3; `
	wantLines(t, out,
		`(?m)^round 1/1, paced: 90 rows \(78 compliant, 12 non_compliant, 0 unknown\) as expected; wall [0-9.]+s \(sweep [0-9.]+s\); `+calls+
			`listing [0-9.]+s; regions called at once [0-9.]+; sweep CPU [0-9.]+s, peak RSS [1-9][0-9]* kB; simulator CPU [0-9.]+s; `+
			`pacing bound 1\.83s \(wall/bound [0-9.]+\), one region at a time 5\.50s$`,
		`(?m)^round 1/1, not paced: 90 rows \(78 compliant, 12 non_compliant, 0 unknown\) as expected; wall [0-9.]+s \(sweep [0-9.]+s\); `+calls,
		`(?m)^sweep: remediator sweep \(--concurrency 8\) as its own process, .* 90 keys over 3 projects, a region each; 90 enabled rotatable \(12 with rotation off\); KMS paced at 18/s burst 2 per region; 1 round\(s\)`,
		`(?m)^on\s+[0-9.]+s\s+[0-9.]+s\s+105\s+1\.83s\s+[0-9.]+\s+[0-9.]+\s+[0-9.]+s\s+[0-9.]+s\s+[1-9][0-9]* MiB\s+[0-9.]+s$`,
		`(?m)^off\s+[0-9.]+s\s+[0-9.]+s\s+105\s+-\s+-\s+`,
		`(?m)^readers: 3 regions x 18 calls/s / 1\.13 calls per key x [0-9.]+ ms per key per reader \(not paced, median\) = [0-9.]+ readers needed`)
}

// TestSweepJudge: the bench's check of a report fails on a wrong status,
// a missing row, an unknown row and a row no key calls for, and passes
// the report the seed calls for.
func TestSweepJudge(t *testing.T) {
	t.Parallel()
	est := newSweepEstate(300, 3)
	report := func() *sweep.Report {
		rep := &sweep.Report{}
		for id, st := range est.want {
			rep.Rows = append(rep.Rows, sweep.Row{Check: sweep.CheckHuaweiKMSRotation, Resource: id, Status: st})
		}
		return rep
	}
	var r sweepResult
	if err := r.judge(report(), est); err != nil {
		t.Fatalf("the report the seed calls for: %v", err)
	}
	if r.status[sweep.NonCompliant] != 42 || r.status[sweep.Compliant] != 252 {
		t.Errorf("statuses %v, want 42 non-compliant (every 7th of 294 enabled rotatable keys) and 252 compliant", r.status)
	}
	for name, tc := range map[string]struct {
		change func(*sweep.Report)
		want   string
	}{
		"flipped": {func(rep *sweep.Report) { flip(&rep.Rows[0]) }, ", want "},
		"missing": {func(rep *sweep.Report) { rep.Rows = rep.Rows[1:] }, "no row for key "},
		"unknown": {func(rep *sweep.Report) { rep.Rows[0].Status = sweep.Unknown }, ": unknown, want "},
		"extra": {func(rep *sweep.Report) {
			rep.Rows = append(rep.Rows, sweep.Row{Check: sweep.CheckHuaweiKMSRotation, Resource: "not-a-key", Status: sweep.Compliant})
		}, "a row no key calls for"},
		"twice": {func(rep *sweep.Report) { rep.Rows = append(rep.Rows, rep.Rows[0]) }, "two rows for key "},
	} {
		rep := report()
		tc.change(rep)
		err := r.judge(rep, est)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
	}
}

// benchRun runs remediator-bench with args and returns its output,
// failing the test on an exit other than 0.
func benchRun(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(context.Background(), args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errb.String(), out.String())
	}
	return out.String()
}

func flip(r *sweep.Row) {
	if r.Status == sweep.Compliant {
		r.Status = sweep.NonCompliant
	} else {
		r.Status = sweep.Compliant
	}
}
