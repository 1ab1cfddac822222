package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/remediator/remediator"
	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/audit"
	"github.com/remediator/remediator/worker/cloudsim"
)

type demoOptions struct {
	eventsDir, seedPath, rulesDir, mode, logFormat string
	logLevel                                       logLevel
	timeout                                        time.Duration
	quiet                                          bool
}

func newDemoCmd(stdout, stderr io.Writer) *cobra.Command {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run everything in-process on the fixture events and print what happened",
		Long: "Starts an embedded JetStream server, the cloud simulator and the worker with the built-in\n" +
			"rules, publishes the fixture events, waits until each has an outcome and prints a table.\n" +
			"No credentials, no servers, no network beyond 127.0.0.1. The fixtures, the demo's policy and\n" +
			"the simulator's state are built into the binary (from testdata/ in the repository), so it\n" +
			"runs from any directory; --events, --rules and --seed take your own instead.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logOut := stderr
			if o.quiet {
				logOut = io.Discard
			}
			log, err := newLoggerAt(logOut, o.logFormat, o.logLevel.level)
			if err != nil {
				return err
			}
			return runDemo(cmd.Context(), stdout, log, o)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&o.eventsDir, "events", "", "fixture events to publish, a file or a directory (default: the demo's, built in: "+remediator.DemoEvents+")")
	fs.StringVar(&o.rulesDir, "rules", "", "rules loaded beside the built-in pack (default: the demo's policy, built in: "+remediator.DemoRules+")")
	fs.StringVar(&o.seedPath, "seed", "", "initial simulator state, a YAML file (default: the demo's, built in: "+remediator.DemoSeed+")")
	fs.StringVar(&o.mode, "mode", "structured", "CloudEvents content mode to publish in: structured or binary")
	fs.StringVar(&o.logFormat, "log-format", "console", "json or console")
	fs.Var(&o.logLevel, "log-level", logLevelUsage)
	fs.DurationVar(&o.timeout, "timeout", time.Minute, "how long to wait for every event's outcome")
	fs.BoolVar(&o.quiet, "quiet", false, "print only the table")
	return cmd
}

func runDemo(ctx context.Context, stdout io.Writer, log *zap.Logger, o demoOptions) error {
	dir, err := os.MkdirTemp("", "remediator-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if o.eventsDir == "" || o.rulesDir == "" {
		// events.ReadFixtures and the rule loader read files: the built-in
		// parts are unpacked beside the embedded server's store.
		if err := unpackDemo(dir); err != nil {
			return err
		}
		o.eventsDir = cmp.Or(o.eventsDir, filepath.Join(dir, remediator.DemoEvents))
		o.rulesDir = cmp.Or(o.rulesDir, filepath.Join(dir, remediator.DemoRules))
	}
	raws, err := events.ReadFixtures(o.eventsDir)
	if err != nil {
		return fmt.Errorf("fixtures: %w", err)
	}
	seed, err := loadSeed(o.seedPath)
	if err != nil {
		return err
	}
	sim := cloudsim.New(seed)
	// Show a retry: the first write is throttled, as the real API does under load.
	sim.Inject(cloudsim.Fault{Op: "kms.enable-key-rotation", Count: 1, Status: 429, Code: "APIGW.0308",
		Message: "The throttling threshold has been reached: policy user over ratelimit,limit:100,time:1 minute"})
	srv, err := cloudsim.Start("127.0.0.1:0", sim)
	if err != nil {
		return err
	}
	defer func() { _ = srv.Close(context.Background()) }()
	conn, err := connect("", dir, "", log)
	if err != nil {
		return err
	}
	defer conn.close()
	reg, err := buildActions(providerConfig{cloudEndpoint: srv.URL()}, log)
	if err != nil {
		return err
	}
	set, err := loadRules(reg, []string{o.rulesDir}, true)
	if err != nil {
		return fmt.Errorf("rules:\n%w", err)
	}
	cfg := worker.DefaultConfig()
	cfg.RetryBase, cfg.ThrottleBase, cfg.AckWait, cfg.ShutdownTimeout = 200*time.Millisecond, 500*time.Millisecond, 10*time.Second, 5*time.Second
	records, err := conn.openRecords()
	if err != nil {
		return err
	}
	mem := audit.NewMemory()
	wctx, stop := context.WithCancel(ctx)
	_, done, err := startWorker(wctx, cfg, worker.Deps{JetStream: conn.js, Rules: set, Actions: reg, Recorder: audit.Tee(audit.NewStream(records, cfg.AuditConfig()), mem), Logger: log})
	if err != nil {
		stop()
		return err
	}
	defer func() { stop(); <-done }()
	if _, err := replay(ctx, conn, cfg, raws, events.Mode(o.mode)); err != nil {
		return err
	}
	want := map[string]bool{}
	for _, r := range raws {
		want[r.ID] = true
	}
	wait, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	waitErr := mem.Wait(wait, func([]audit.Decision) bool { return len(mem.Final()) >= len(want) })
	printTable(stdout, raws, mem.Final())
	fmt.Fprintf(stdout, "\n%d events, %d cloud writes, simulator at %s\n", len(raws), sim.Writes(""), srv.URL())
	if waitErr != nil {
		return fmt.Errorf("not every event had an outcome after %s", o.timeout)
	}
	return nil
}

// unpackDemo writes the demo's built-in files under dir, at the paths they
// have in the repository.
func unpackDemo(dir string) error {
	return fs.WalkDir(remediator.Demo, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == "." {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		b, err := remediator.Demo.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o600)
	})
}

// loadSeed reads the simulator's initial state from path, or the demo's
// built-in state when path is empty.
func loadSeed(path string) (cloudsim.Seed, error) {
	if path != "" {
		return cloudsim.LoadSeed(path)
	}
	b, err := remediator.Demo.ReadFile(remediator.DemoSeed)
	if err != nil {
		return cloudsim.Seed{}, err
	}
	s, err := cloudsim.ParseSeed(b)
	if err != nil {
		return cloudsim.Seed{}, fmt.Errorf("cloudsim seed %s (built in): %w", remediator.DemoSeed, err)
	}
	return s, nil
}

// printTable prints one row per event and rule, in fixture order.
func printTable(w io.Writer, raws []events.Raw, final map[string][]audit.Decision) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "EVENT ID\tTYPE\tRULE\tACTION\tOUTCOME\tREASON")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, r := range raws {
		ds := final[r.ID]
		if len(ds) == 0 {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\tpending\t-\n", r.ID, r.Type)
			continue
		}
		sort.SliceStable(ds, func(i, j int) bool { return ds[i].Rule < ds[j].Rule })
		for _, d := range ds {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Type, dash(d.Rule), dash(d.Action), d.Outcome, dash(string(d.Reason)))
		}
	}
	_ = tw.Flush()
}
