package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/remediator/remediator/worker/cloudsim"
	"github.com/remediator/remediator/worker/sweep"
)

// `remediator-bench sweep`: `remediator sweep` as its own process over a
// generated estate of Huawei KMS keys, a project per region, paced and not.
// It is a subcommand of its own rather than a part of external: it needs
// no nats-server (a sweep without --publish talks to the clouds only) and
// none of external's flags apply to it.

// sweepOptions are the flags of `remediator-bench sweep`.
type sweepOptions struct {
	keys, projects, rounds int
	concurrency            int // the sweep's --concurrency; 0 leaves its default
	remediator             string
	timeout                time.Duration
}

func newSweepBenchCmd(stdout io.Writer) *cobra.Command {
	var o sweepOptions
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Measure `remediator sweep` as its own process over a generated estate of Huawei KMS keys",
		Long: "Starts the simulator in this process seeded with --sweep-keys KMS keys generated over --sweep-projects\n" +
			"projects, each in a region of its own (every 7th key with rotation off; every 50th disabled, every 100th\n" +
			"imported, every 150th a default key), writes a policy naming those regions and projects, and runs\n" +
			"`remediator sweep --builtin --rules POLICY -o json` as a process, paced (the default) and --pacing=false,\n" +
			"in turn for --rounds rounds, each against a fresh simulator. For each run: the wall time, the simulator's\n" +
			"calls by API, the pacing bound (the most KMS calls one region's bucket had to make over its rate), how many\n" +
			"regions were called at once, the sweep process's CPU and peak RSS, and its rows by status, checked\n" +
			"against the seed: every enabled rotatable key with rotation off non_compliant, every other one compliant.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSweepBench(cmd.Context(), stdout, o) },
	}
	fs := cmd.Flags()
	fs.IntVar(&o.keys, "sweep-keys", 10000, "KMS keys generated, spread evenly over the projects")
	fs.IntVar(&o.projects, "sweep-projects", 10, "projects, each in a region of its own")
	fs.IntVar(&o.rounds, "rounds", 2, "rounds; each runs the sweep paced, then not paced")
	fs.IntVar(&o.concurrency, "concurrency", 0, "the sweep's --concurrency (0: its default)")
	fs.StringVar(&o.remediator, "remediator", "", "remediator binary (default: built from this module)")
	fs.DurationVar(&o.timeout, "timeout", 20*time.Minute, "longest one sweep may take")
	return cmd
}

func (o sweepOptions) validate() error {
	if o.keys < o.projects || o.projects <= 0 || o.rounds <= 0 || o.concurrency < 0 || o.timeout <= 0 {
		return errors.New("--sweep-projects, --rounds and --timeout must be positive, --sweep-keys at least --sweep-projects, --concurrency 0 or more")
	}
	return nil
}

func runSweepBench(ctx context.Context, w io.Writer, o sweepOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "remediator-bench-sweep-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := o.remediator
	if bin == "" {
		if bin, err = buildRemediator(ctx, dir); err != nil {
			return err
		}
	}
	est := newSweepEstate(o.keys, o.projects)
	policy := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(policy, est.policy(), 0o600); err != nil {
		return err
	}
	var runs []sweepResult
	for round := range o.rounds {
		for _, paced := range []bool{true, false} {
			r, err := sweepRun(ctx, bin, policy, est, paced, o)
			if err != nil {
				return fmt.Errorf("round %d, %s: %w", round+1, pacedName(paced), err)
			}
			runs = append(runs, r)
			fmt.Fprintf(w, "round %d/%d, %s\n", round+1, o.rounds, r)
		}
	}
	printSweepBench(w, o, est, runs)
	return nil
}

func pacedName(paced bool) string {
	if paced {
		return "paced"
	}
	return "not paced"
}

// sweepEstate is the generated estate: its projects and what the sweep
// must find of each key.
type sweepEstate struct {
	projects []sweepProject
	seed     cloudsim.Seed
	want     map[string]sweep.Status // key id -> status, for every enabled rotatable key
}

type sweepProject struct {
	id, region string
	keys       int
}

// The generate rules of every project (see cloudsim.SeedGenerate).
const (
	sweepRotationOffEvery = 7
	sweepDisabledEvery    = 50
	sweepExternalEvery    = 100
	sweepDefaultEvery     = 150
)

// sweepAccount is the Huawei account swept (the simulator's demo domain).
const sweepAccount = "5f1e2d3c4b5a69788796a5b4c3d2e1f0"

func newSweepEstate(keys, projects int) sweepEstate {
	var e sweepEstate
	for i := range projects {
		n := keys / projects
		if i < keys%projects {
			n++
		}
		e.projects = append(e.projects, sweepProject{id: fmt.Sprintf("%028x%04x", 0, 0xa000+i), region: fmt.Sprintf("cn-sweep-%d", i+1), keys: n})
	}
	for _, p := range e.projects {
		e.seed.Huawei.Generate = append(e.seed.Huawei.Generate, cloudsim.SeedGenerate{Project: p.id, Region: p.region, Count: p.keys,
			RotationOffEvery: sweepRotationOffEvery, DisabledEvery: sweepDisabledEvery, ExternalEvery: sweepExternalEvery, DefaultEvery: sweepDefaultEvery})
	}
	e.want = e.expected()
	return e
}

// expected reads every generated key back from a simulator of the seed:
// an enabled key that KMS can rotate (KMS-made, symmetric, not a default
// key) must be non_compliant when its rotation is off, else compliant.
// It is judged here from the simulator's state, not by the sweep's code.
func (e sweepEstate) expected() map[string]sweep.Status {
	sim := cloudsim.New(e.seed)
	want := make(map[string]sweep.Status)
	for _, p := range e.projects {
		for n := 1; n <= p.keys; n++ {
			id := cloudsim.GeneratedKeyID(p.id, n)
			k, ok := sim.Key(p.id, id)
			if !ok || k.State != "2" || k.Origin != "kms" || k.Default || (k.Spec != "AES_256" && k.Spec != "SM4") {
				continue
			}
			want[id] = sweep.Compliant
			if !k.Rotation {
				want[id] = sweep.NonCompliant
			}
		}
	}
	return want
}

// policy is a rule file holding only the policy: each region's project.
func (e sweepEstate) policy() []byte {
	var b strings.Builder
	b.WriteString("policy:\n  huawei_projects:\n")
	for _, p := range e.projects {
		fmt.Fprintf(&b, "    %s: %q\n", p.region, p.id)
	}
	b.WriteString("rules: []\n")
	return []byte(b.String())
}

func (e sweepEstate) region(project string) string {
	for _, p := range e.projects {
		if p.id == project {
			return p.region
		}
	}
	return ""
}

// sweepRun runs `remediator sweep` once as a process against a fresh
// simulator of the estate and checks its report.
func sweepRun(ctx context.Context, bin, policy string, est sweepEstate, paced bool, o sweepOptions) (sweepResult, error) {
	sim := cloudsim.New(est.seed)
	srv, err := cloudsim.Start("127.0.0.1:0", sim)
	if err != nil {
		return sweepResult{}, err
	}
	defer func() { _ = srv.Close(context.Background()) }()
	args := []string{"sweep", "--cloud-endpoint", srv.URL(), "--account", "huawei=" + sweepAccount,
		"--builtin", "--rules", policy, "-o", "json", "--pacing=" + strconv.FormatBool(paced)}
	if o.concurrency > 0 {
		args = append(args, "--concurrency", strconv.Itoa(o.concurrency))
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = workerEnv()
	var stdout bytes.Buffer
	stderr := &capped{}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	self0, start := usageNow(), time.Now()
	err = cmd.Run()
	r := sweepResult{paced: paced, wall: time.Since(start)}
	r.simCPU = usageNow().cpu - self0.cpu
	if ctx.Err() != nil {
		return r, fmt.Errorf("%s %s: not done after --timeout %s:\n%s", bin, strings.Join(args, " "), o.timeout, stderr)
	}
	if err != nil {
		return r, fmt.Errorf("%s %s: %w:\n%s", bin, strings.Join(args, " "), err, stderr)
	}
	// The child's CPU and peak RSS from wait4's rusage: exact at its exit,
	// when /proc/<pid> (procCPU, vmHWM) is gone.
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		r.rssKiB = ru.Maxrss
	}
	var rep sweep.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		return r, fmt.Errorf("sweep -o json: %w: %.200s", err, stdout.String())
	}
	r.took = rep.Finished.Sub(rep.Started)
	if err := r.judge(&rep, est); err != nil {
		return r, err
	}
	if n := sim.Writes(""); n != 0 {
		return r, fmt.Errorf("the sweep made %d writes; it must make none", n)
	}
	r.countCalls(sim.Calls(), est)
	if r.failed > 0 {
		return r, fmt.Errorf("%d of the simulator's %d calls failed", r.failed, r.totalCalls())
	}
	return r, nil
}
