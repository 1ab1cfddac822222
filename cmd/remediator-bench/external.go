package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// extOptions are the flags of `remediator-bench external`.
type extOptions struct {
	events, resources, rounds int
	concurrency               []int
	natsServer, remediator    string
	natsCLI                   string
	workerProfile             string
	timeout                   time.Duration

	only                    []string // parts: drain (the default), latency, cluster, write, million
	workerConcurrency       int      // the worker's --concurrency in the latency, cluster, write and million parts
	rate                    int
	latencyFor              time.Duration
	millionEvents, baseline int
	writeEvents             int
	writeProfileFor         time.Duration
	writeProfile            string
}

// extParts are the parts of `remediator-bench external`, in the order they run.
var extParts = []string{"drain", "latency", "cluster", "write", "million"}

// runs reports whether the part is selected (drain alone by default).
func (o extOptions) runs(part string) bool {
	if len(o.only) == 0 {
		return part == "drain"
	}
	return slices.Contains(o.only, part)
}

func newExternalCmd(stdout io.Writer) *cobra.Command {
	var o extOptions
	cmd := &cobra.Command{
		Use:   "external",
		Short: "Measure `remediator run` as its own process against a nats-server process over TCP",
		Long: "Starts nats-server as a process of its own on 127.0.0.1 (JetStream, file storage, default sync), a fresh one\n" +
			"for every measurement, and the simulator in this process. Parts (--only; drain alone by default):\n" +
			"  drain: each round, at each concurrency in turn: the DoubleAck ceiling of a plain consumer over TCP in this\n" +
			"    process, reading as the worker does; `nats bench js consume --doubleack` if the nats CLI is found;\n" +
			"    `remediator run` draining a backlog of no-write events, timed from its /readyz answering to its consumer\n" +
			"    having nothing pending or unacknowledged.\n" +
			"  latency: each round, no-write events offered at --rate for --latency-duration to one worker; p50/p99 from\n" +
			"    the intake stream's stored time of each event to its audit record's stored time.\n" +
			"  cluster: each round, a three-node cluster (R3 streams and ledger) with a worker per node sharing the\n" +
			"    consumer, beside one worker on one server: the drain rate and the latency at --rate.\n" +
			"  write: each round, --write-events events that each need one write (a different drifted key each, a fresh\n" +
			"    simulator) drained by one worker: the rate, the writes, the CPU per event of the worker, the simulator (this\n" +
			"    process) and the server; then one profiled drain splits the worker's CPU into its SDK calls and the rest.\n" +
			"  million: --million-baseline drained --rounds times around one drain of --million-events (published\n" +
			"    before the worker starts): the rates and the worker's peak RSS.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runExternal(cmd.Context(), stdout, o) },
	}
	fs := cmd.Flags()
	fs.IntVar(&o.events, "events", 20000, "events (and messages) per measurement")
	fs.IntVar(&o.resources, "resources", 100, "compliant KMS keys the events are about")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds; each reports every part at every concurrency, the table their medians and ranges")
	fs.IntSliceVar(&o.concurrency, "concurrency-list", []int{4, 16}, "concurrencies (the worker's --concurrency, the ceiling's goroutines, nats bench's --clients)")
	fs.StringVar(&o.natsServer, "nats-server", "", "nats-server binary (default: built from the module's nats-server version)")
	fs.StringVar(&o.remediator, "remediator", "", "remediator binary (default: built from this module)")
	fs.StringVar(&o.natsCLI, "nats-cli", "", "nats CLI binary for the nats bench column (default: nats on PATH, else go install natscli@"+natsCLIVersion+"; off: skip)")
	fs.StringVar(&o.workerProfile, "worker-cpuprofile", "", "after the rounds, drain once more per concurrency with the worker's --pprof on, and write its CPU profile of the drain to FILE.c<concurrency>, the nats-server's to FILE.c<concurrency>.server, and the worker's allocations to FILE.c<concurrency>.allocs")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "longest a measurement may take (the million part's drains: at least 1 ms per event)")
	fs.StringSliceVar(&o.only, "only", nil, "parts to run: drain (the default), latency, cluster, write, million")
	fs.IntVar(&o.workerConcurrency, "concurrency", 8, "the worker's --concurrency in the latency, cluster, write and million parts (drain: --concurrency-list)")
	fs.IntVar(&o.rate, "rate", 500, "latency: events offered per second")
	fs.DurationVar(&o.latencyFor, "latency-duration", 10*time.Second, "latency: how long events are offered")
	fs.IntVar(&o.millionEvents, "million-events", 1000000, "million: the large backlog (drained once)")
	fs.IntVar(&o.baseline, "million-baseline", 100000, "million: the backlog it is compared with (drained --rounds times)")
	fs.IntVar(&o.writeEvents, "write-events", 2000, "write: events per drain, each about a different resource that needs one write")
	fs.DurationVar(&o.writeProfileFor, "write-profile-for", 5*time.Second, "write: how long the profiled drain's CPU profile lasts (whole seconds; its backlog is grown to last a quarter longer)")
	fs.StringVar(&o.writeProfile, "write-cpuprofile", "", "write: keep the profiled drain's worker CPU profile in FILE (and nats-server's in FILE.server, the worker's allocations in FILE.allocs)")
	return cmd
}

const natsCLIVersion = "v0.5.1"

// extTools are the binaries the external bench runs.
type extTools struct {
	natsServer, remediator, natsCLI string
	natsCLINote                     string // why there is no nats bench column
}

func findTools(ctx context.Context, w io.Writer, o extOptions, dir string) (extTools, error) {
	t := extTools{natsServer: o.natsServer, remediator: o.remediator}
	if t.natsServer == "" {
		t.natsServer = filepath.Join(dir, "nats-server")
		if err := goBuild(ctx, "-o", t.natsServer, "github.com/nats-io/nats-server/v2"); err != nil {
			return t, err
		}
	}
	if t.remediator == "" {
		var err error
		if t.remediator, err = buildRemediator(ctx, dir); err != nil {
			return t, err
		}
	}
	switch {
	case !o.runs("drain"):
		t.natsCLINote = "not needed (no drain part)"
	case o.natsCLI == "off":
		t.natsCLINote = "skipped (--nats-cli off)"
	case o.natsCLI == "":
		if p, err := exec.LookPath("nats"); err == nil {
			t.natsCLI = p
			break
		}
		fmt.Fprintf(w, "no nats CLI on PATH: go install github.com/nats-io/natscli/nats@%s ...\n", natsCLIVersion)
		install := exec.CommandContext(ctx, "go", "install", "github.com/nats-io/natscli/nats@"+natsCLIVersion)
		install.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod")
		if out, err := install.CombinedOutput(); err != nil {
			t.natsCLINote = fmt.Sprintf("skipped: installing the nats CLI failed: %v: %s", err, lastLine(string(out)))
			break
		}
		t.natsCLI = filepath.Join(dir, "nats")
	default:
		t.natsCLI = o.natsCLI
	}
	return t, nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// extRound is one round's results at one concurrency.
type extRound struct {
	ceiling, natsBench, worker extResult
}

// validate checks the flags' values.
func (o extOptions) validate() error {
	if o.events <= 0 || o.resources <= 0 || len(o.concurrency) == 0 || slices.Min(o.concurrency) <= 0 {
		return errors.New("--events, --resources and every --concurrency-list entry must be positive")
	}
	if o.workerConcurrency <= 0 || o.rate <= 0 || o.latencyFor <= 0 || o.millionEvents <= 0 || o.baseline <= 0 {
		return errors.New("--concurrency, --rate, --latency-duration, --million-events and --million-baseline must be positive")
	}
	if o.writeEvents <= 0 || o.writeProfileFor <= 0 {
		return errors.New("--write-events and --write-profile-for must be positive")
	}
	for _, p := range o.only {
		if !slices.Contains(extParts, p) {
			return fmt.Errorf("--only: no part %q (parts: %s)", p, strings.Join(extParts, ", "))
		}
	}
	return nil
}

func runExternal(ctx context.Context, w io.Writer, o extOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "remediator-bench-external-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	t, err := findTools(ctx, w, o, dir)
	if err != nil {
		return err
	}
	_, sim, keys, err := startBenchSim(o.resources, o.resources)
	if err != nil {
		return err
	}
	defer func() { _ = sim.Close(context.Background()) }()
	rounds := max(1, o.rounds)
	got := make(map[int][]extRound)
	var lats []latencyResult
	var clus []clusterRound
	var writes []writeRound
	for round := range rounds {
		if o.runs("drain") {
			if err := extDrainRound(ctx, w, t, o, sim.URL(), keys, round, got); err != nil {
				return err
			}
		}
		if o.runs("latency") {
			r, err := extLatency(ctx, t, sim.URL(), keys, latencyRun{nodes: 1, concurrency: o.workerConcurrency, rate: o.rate, duration: o.latencyFor})
			if err != nil {
				return fmt.Errorf("latency: %w", err)
			}
			lats = append(lats, r)
			fmt.Fprintf(w, "round %d/%d, latency: %s\n", round+1, rounds, r)
		}
		if o.runs("cluster") {
			r, err := extClusterRound(ctx, t, o, sim.URL(), keys)
			if err != nil {
				return fmt.Errorf("cluster: %w", err)
			}
			clus = append(clus, r)
			fmt.Fprintf(w, "round %d/%d, cluster: %s\n", round+1, rounds, r)
		}
		if o.runs("write") {
			r, err := extWriteDrain(ctx, t, o, o.writeEvents, "", 0)
			if err != nil {
				return fmt.Errorf("write: %w", err)
			}
			writes = append(writes, r)
			fmt.Fprintf(w, "round %d/%d, write: %s\n", round+1, rounds, r)
		}
	}
	if o.runs("drain") {
		printExternal(w, o, t, got)
	}
	if o.runs("latency") {
		printLatency(w, o, lats)
	}
	if o.runs("cluster") {
		printCluster(w, o, clus)
	}
	if o.runs("write") {
		prof, split, err := extWriteProfile(ctx, t, o, dir, writes)
		if err != nil {
			return fmt.Errorf("write, profiled drain: %w", err)
		}
		printWrite(w, o, writes, prof, split)
	}
	if o.runs("million") {
		if err := extMillion(ctx, w, t, o, sim.URL(), keys); err != nil {
			return fmt.Errorf("million: %w", err)
		}
	}
	if o.workerProfile != "" && o.runs("drain") {
		return extProfiles(ctx, w, t, o, sim.URL(), keys, got)
	}
	return nil
}

// extProfiles drains once more per concurrency with the worker's --pprof
// on and writes its CPU profile of most of the drain.
func extProfiles(ctx context.Context, w io.Writer, t extTools, o extOptions, simURL string, keys []string, got map[int][]extRound) error {
	for _, c := range o.concurrency {
		path := o.workerProfile + ".c" + strconv.Itoa(c)
		// The profile covers most of the drain, as long as the
		// measured rounds took (their median rate).
		rates := make([]float64, 0, len(got[c]))
		for _, r := range got[c] {
			rates = append(rates, r.worker.rate)
		}
		slices.Sort(rates)
		drain := time.Duration(float64(o.events) / rates[len(rates)/2] * float64(time.Second))
		r, err := extWorker(ctx, t, o, c, simURL, keys, path, drain*9/10)
		if err != nil {
			return fmt.Errorf("profiled worker, concurrency %d: %w", c, err)
		}
		fmt.Fprintf(w, "worker CPU profile at concurrency %d (%.0f events/s while profiled): %s (go tool pprof -top %s); the nats-server's: %s.server\n", c, r.rate, path, path, path)
	}
	return nil
}

// extDrainRound runs a round of the drain part: at each concurrency the
// ceiling, nats bench and the worker, appended to got.
func extDrainRound(ctx context.Context, w io.Writer, t extTools, o extOptions, simURL string, keys []string, round int, got map[int][]extRound) error {
	rounds := max(1, o.rounds)
	var err error
	for _, c := range o.concurrency {
		var r extRound
		if r.ceiling, err = extCeiling(ctx, t, o, c, keys); err != nil {
			return fmt.Errorf("ceiling, concurrency %d: %w", c, err)
		}
		if t.natsCLI != "" {
			if r.natsBench, err = extNATSBench(ctx, t, o, c); err != nil {
				return fmt.Errorf("nats bench, concurrency %d: %w", c, err)
			}
		}
		if r.worker, err = extWorker(ctx, t, o, c, simURL, keys, "", 0); err != nil {
			return fmt.Errorf("worker, concurrency %d: %w", c, err)
		}
		got[c] = append(got[c], r)
		nb := "-"
		if r.natsBench.rate > 0 {
			nb = fmt.Sprintf("%.0f/s", r.natsBench.rate)
		}
		fmt.Fprintf(w, "round %d/%d, concurrency %d: ceiling %.0f/s, nats bench %s, worker %.0f/s (%.0f%% of ceiling); worker settled %d events: %s\n",
			round+1, rounds, c, r.ceiling.rate, nb, r.worker.rate, 100*r.worker.rate/r.ceiling.rate, o.events, r.worker.settled)
	}
	return nil
}

func printExternal(w io.Writer, o extOptions, t extTools, got map[int][]extRound) {
	fmt.Fprintf(w, "\nexternal: nats-server and remediator run as processes over loopback TCP; %d no-write events about %d compliant keys; %d round(s), median (min-max)\n",
		o.events, o.resources, max(1, o.rounds))
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "concurrency\tceiling msg/s\tnats bench msg/s\tworker events/s\tworker/ceiling\tworker/nats bench\tworker CPU/event\tserver CPU/event (worker)\tceiling CPU/event\tserver CPU/event (ceiling)\tworker peak RSS")
	for _, c := range o.concurrency {
		rs := got[c]
		pick := func(f func(extRound) float64) []float64 {
			var v []float64
			for _, r := range rs {
				v = append(v, f(r))
			}
			return v
		}
		nb, nbRatio := "-", "-"
		if t.natsCLI != "" {
			nb = spread(pick(func(r extRound) float64 { return r.natsBench.rate }), "%.0f")
			nbRatio = spread(pick(func(r extRound) float64 { return r.worker.rate / r.natsBench.rate }), "%.2f")
		}
		us := func(f func(extRound) time.Duration) string {
			return spread(pick(func(r extRound) float64 { return float64(f(r)) / float64(time.Microsecond) }), "%.0fµs")
		}
		rss := slices.MaxFunc(rs, func(a, b extRound) int { return strings.Compare(pad(a.worker.rss), pad(b.worker.rss)) }).worker.rss
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c,
			spread(pick(func(r extRound) float64 { return r.ceiling.rate }), "%.0f"), nb,
			spread(pick(func(r extRound) float64 { return r.worker.rate }), "%.0f"),
			spread(pick(func(r extRound) float64 { return r.worker.rate / r.ceiling.rate }), "%.2f"), nbRatio,
			us(func(r extRound) time.Duration { return r.worker.cpu }), us(func(r extRound) time.Duration { return r.worker.serverCPU }),
			us(func(r extRound) time.Duration { return r.ceiling.cpu }), us(func(r extRound) time.Duration { return r.ceiling.serverCPU }), rss)
	}
	_ = tw.Flush()
	if t.natsCLINote != "" {
		fmt.Fprintln(w, "nats bench:", t.natsCLINote)
	}
	fmt.Fprintln(w, "ratios are medians of the rounds' ratios; the ceiling's CPU is this process's (its consumer and the idle simulator), the worker's its process's, from /proc")
	for _, c := range o.concurrency {
		pick := func(f func(extResult) float64) string {
			var v []float64
			for _, r := range got[c] {
				v = append(v, f(r.worker))
			}
			return spread(v, "%.2f")
		}
		fmt.Fprintf(w, "system calls per event while the worker drains, concurrency %d (/proc/<pid>/io syscr, syscw): worker reads %s, writes %s; nats-server reads %s, writes %s\n", c,
			pick(func(r extResult) float64 { return r.workerReads }), pick(func(r extResult) float64 { return r.workerWrites }),
			pick(func(r extResult) float64 { return r.serverReads }), pick(func(r extResult) float64 { return r.serverWrites }))
	}
}

// spread is the median of v with its range, each printed with format.
func spread(v []float64, format string) string {
	v = slices.Clone(v)
	slices.Sort(v)
	med := fmt.Sprintf(format, v[len(v)/2])
	if len(v) == 1 {
		return med
	}
	return med + " (" + fmt.Sprintf(format, v[0]) + "-" + fmt.Sprintf(format, v[len(v)-1]) + ")"
}

// pad right-aligns a VmHWM value ("12345 kB") so that strings compare as numbers.
func pad(s string) string { return fmt.Sprintf("%20s", s) }
