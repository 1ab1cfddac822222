package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/huawei"
	"github.com/remediator/remediator/worker/streams"
	"github.com/remediator/remediator/worker/sweep"
)

// sweepFlags are the flags of `sweep` that run's --sweep-every shares.
type sweepFlags struct {
	accounts    []string // provider=ID
	concurrency int
}

func (f *sweepFlags) scope(af accountsFile) (sweep.Scope, error) {
	sc := sweep.Scope{Accounts: map[string][]string{}}
	for id := range af.Huawei.Accounts {
		sc.Accounts["huawei"] = append(sc.Accounts["huawei"], id)
	}
	for id := range af.Alibaba.Accounts {
		sc.Accounts["alibaba"] = append(sc.Accounts["alibaba"], id)
	}
	for _, a := range f.accounts {
		prov, id, ok := strings.Cut(a, "=")
		if !ok || id == "" || (prov != "huawei" && prov != "alibaba") {
			return sc, fmt.Errorf("--account %q: want huawei=DOMAIN_ID or alibaba=ACCOUNT_ID", a)
		}
		sc.Accounts[prov] = append(sc.Accounts[prov], id)
	}
	return sc, nil
}

func newSweepCmd(stdout, stderr io.Writer) *cobra.Command {
	var (
		wf                     workerFlags
		sf                     sweepFlags
		cf                     clientFlags
		cloudEndpoint, id      string
		accountsPath           string
		output                 outputFlag
		pacing, publish, fail  bool
		rateFlags, onlyStatus  []string
		cloudTimeout, progress time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sweep",
		Short: "Read what the policy covers, judge it as the rules would, and print the posture (--publish: findings to the intake stream)",
		Long: `Reads the current state of every resource the policy and the accounts cover, through the
providers' read APIs (paced as run paces them), and judges each as the worker would judge an event
about it: the rules say which action applies, and the action's dry run reads the state. Nothing is
written. With --publish, each non-compliant resource's canonical finding goes to the intake stream,
so the worker remediates it through the usual rules, ledger, limits and audit; the findings' ids
come from --id, so publishing one sweep twice adds nothing.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output.check(); err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rates, err := paceRates(pacing, rateFlags)
			if err != nil {
				return err
			}
			p, err := buildProviders(providerConfig{cloudEndpoint: cloudEndpoint, accountsPath: accountsPath, rates: rates,
				timeout: worker.Config{CloudTimeout: cloudTimeout}.WithDefaults().CloudTimeout}, zap.NewNop())
			if err != nil {
				return err
			}
			set, err := loadRulesLimited(p.actions, wf.rules, wf.builtin, wf.ruleLimit)
			if err != nil {
				return err
			}
			sc, err := sf.scope(p.accounts)
			if err != nil {
				return err
			}
			if len(sc.Accounts["huawei"]) == 0 {
				fmt.Fprintln(stderr, "sweep: no Huawei account to sweep (name one with --account huawei=DOMAIN_ID or in --accounts): Huawei checks skipped")
			}
			if id == "" {
				id = time.Now().UTC().Format("20060102T150405Z")
			}
			sw := newSweeper(set, p, sc, wf.cfg, sf.concurrency)
			sw.ProgressEvery = progress
			sw.Progress = func(pr sweep.Progress) {
				fmt.Fprintf(stderr, "sweep %s: %d of %d resources, %.0f/s, about %s left\n", id, pr.Done, pr.Total, pr.Rate, pr.Left.Round(time.Second))
			}
			rep, err := sw.Run(ctx, id)
			if err != nil {
				return err
			}
			// The report first: a sweep that took long is not lost when
			// publishing fails.
			if err := printSweep(stdout, rep, output, onlyStatus); err != nil {
				return err
			}
			if publish {
				if err := cf.withConn(cmd, zap.NewNop(), func(c *natsConn) error {
					n, dup, err := publishFindings(ctx, c, cf.cfg, rep)
					fmt.Fprintf(stderr, "sweep %s: published %d findings (%d already published by this sweep)\n", id, n, dup)
					return err
				}); err != nil {
					return err
				}
			}
			if fail && slices.ContainsFunc(rep.Summary, func(s sweep.Summary) bool { return s.NonCompliant+s.Unknown > 0 }) {
				return exitError{code: 1}
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringSliceVar(&wf.rules, "rules", nil, "rule files or directories (default: the built-in pack)")
	fs.BoolVar(&wf.builtin, "builtin", false, "load the built-in pack beside --rules (e.g. with a file holding only your policy)")
	registerRuleLimits(fs, &wf.ruleLimit)
	wf.cfg = worker.DefaultConfig()
	fs.StringSliceVar(&wf.cfg.SelfPrincipals, "self-principal", nil, "the worker's own cloud identities, as run has them")
	fs.StringSliceVar(&sf.accounts, "account", nil, "an account to sweep besides those --accounts and the policy name: huawei=DOMAIN_ID or alibaba=ACCOUNT_ID (repeatable)")
	fs.IntVar(&sf.concurrency, "concurrency", 8, "resources read at once (pacing bounds the rate)")
	fs.StringVar(&accountsPath, "accounts", "", "YAML file naming the credentials of each cloud account (as run's)")
	fs.StringVar(&cloudEndpoint, "cloud-endpoint", "", "send every provider call to this URL, e.g. http://127.0.0.1:8099 (the simulator)")
	fs.DurationVar(&cloudTimeout, "cloud-timeout", 0, "timeout of one cloud call (0: 10s)")
	fs.BoolVar(&pacing, "pacing", true, "pace reads per provider, account, region and API at the providers' documented rates")
	fs.StringSliceVar(&rateFlags, "rate", nil, "API=PER_SECOND[:BURST] over the documented rates, as run's --rate")
	fs.StringVar(&id, "id", "", "the sweep's id, which makes its findings' ids (default: the start time, 20261129T101500Z)")
	fs.BoolVar(&publish, "publish", false, "publish each non-compliant resource's finding to the intake stream")
	output.register(fs, "table", "json", "yaml")
	fs.StringSliceVar(&onlyStatus, "status", nil, "print only rows of these statuses (compliant, non_compliant, unknown, not_applicable)")
	fs.BoolVar(&fail, "exit-code", false, "exit 1 when a resource is non-compliant or unknown")
	fs.DurationVar(&progress, "progress", 5*time.Second, "how often progress is written to stderr")
	cf.register(fs, "stream", "subject") // --publish's connection, as the other tool commands take it
	return cmd
}

// newSweeper builds the sweeper of a rule set and providers.
func newSweeper(set *rules.Set, p providers, sc sweep.Scope, cfg worker.Config, concurrency int) *sweep.Sweeper {
	return &sweep.Sweeper{Rules: set, Actions: p.actions, Inventory: kmsInventory{p.huawei}, Scope: sc,
		Normalizer: events.Normalizer{SelfPrincipals: cfg.SelfPrincipals}, Concurrency: concurrency}
}

// publishFindings puts the report's findings on the intake stream; it
// counts those published and those the stream already had.
func publishFindings(ctx context.Context, c *natsConn, cfg worker.Config, rep *sweep.Report) (n, dup int, err error) {
	for _, f := range rep.Findings() {
		d, perr := streams.Publish(ctx, c.js, cfg.Streams(), f, events.Structured)
		if perr != nil {
			return n, dup, fmt.Errorf("publish finding %s: %w", f.ID, perr)
		}
		if n++; d {
			dup++
		}
	}
	return n, dup, nil
}

// printSweep writes the report as a table (rows, then the summary) or
// as one JSON or YAML document.
func printSweep(w io.Writer, rep *sweep.Report, output outputFlag, only []string) error {
	keep := func(r sweep.Row) bool { return len(only) == 0 || slices.Contains(only, string(r.Status)) }
	if output.format != "table" {
		out := *rep
		out.Rows = slices.DeleteFunc(slices.Clone(rep.Rows), func(r sweep.Row) bool { return !keep(r) })
		if out.Rows == nil {
			out.Rows = []sweep.Row{}
		}
		return output.write(w, out)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tACCOUNT\tREGION\tRESOURCE\tSTATUS\tSTATE\tWHY")
	for _, r := range rep.Rows {
		if !keep(r) {
			continue
		}
		why := r.Reason
		if r.Status == sweep.NonCompliant && r.Want != "" {
			why = strings.TrimSpace("want " + r.Want + " (rule " + r.Rule + ") " + why)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Check, r.Account, r.Region, r.Resource, r.Status, dash(r.State), dash(why))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nsweep %s, %s, %d rows\n", rep.ID, rep.Finished.Sub(rep.Started).Round(time.Millisecond), len(rep.Rows))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tCOMPLIANT\tNON_COMPLIANT\tUNKNOWN\tNOT_APPLICABLE")
	for _, s := range rep.Summary {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", s.Check, s.Compliant, s.NonCompliant, s.Unknown, s.NotApplicable)
	}
	return tw.Flush()
}

// newSchedule is run's --sweep-every: sweeps with the worker's current
// rules, published on its connection, recorded in the control bucket.
func newSchedule(ctx context.Context, conn *natsConn, w *worker.Worker, p providers, sc sweep.Scope, wf workerFlags, reg prometheus.Registerer, log *zap.Logger) runner {
	kv, err := conn.js.KeyValue(ctx, wf.cfg.ControlBucket)
	if err != nil {
		log.Error("sweep_unavailable", zap.Error(err))
		return runnerFunc(func(context.Context) {})
	}
	host, _ := os.Hostname()
	m := sweep.NewMetrics(reg)
	return &sweep.Schedule{KV: kv, Every: wf.sweepEvery, Owner: fmt.Sprintf("%s/%d", host, os.Getpid()), Log: log,
		Sweeper: func() *sweep.Sweeper {
			sw := newSweeper(w.Rules(), p, sc, wf.cfg, wf.sweep.concurrency)
			sw.ProgressEvery = 30 * time.Second
			sw.Progress = func(pr sweep.Progress) {
				log.Info("sweep_progress", zap.Int("done", pr.Done), zap.Int("total", pr.Total),
					zap.Float64("per_second", pr.Rate), zap.Duration("left", pr.Left.Round(time.Second)))
			}
			return sw
		},
		Publish: func(ctx context.Context, r *sweep.Report) (int, error) {
			n, _, err := publishFindings(ctx, conn, wf.cfg, r)
			return n, err
		},
		Done: m.Observe,
	}
}

// runner is something that runs until its context ends.
type runner interface{ Run(ctx context.Context) }

// startRunner runs r beside the worker; stop ends it and waits for it.
func startRunner(ctx context.Context, r runner) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx)
	}()
	return func() { cancel(); <-done }
}

type runnerFunc func(context.Context)

func (f runnerFunc) Run(ctx context.Context) { f(ctx) }

// kmsInventory lists Huawei KMS keys for the sweep.
type kmsInventory struct{ hw *huawei.Provider }

func (i kmsInventory) ListKMSKeys(ctx context.Context, account, region, project string, each func(sweep.KMSKey) error) error {
	return i.hw.ListKMSKeys(ctx, account, region, project, func(k huawei.KMSKey) error {
		rotatable, _ := k.Rotatable()
		return each(sweep.KMSKey{ID: k.ID, Enabled: k.Enabled(), Rotatable: rotatable})
	})
}

func newPostureCmd(stdout io.Writer) *cobra.Command {
	var (
		cf         clientFlags
		output     outputFlag
		onlyStatus []string
	)
	cmd := &cobra.Command{
		Use:   "posture",
		Short: "Print the last periodic sweep's report (run --sweep-every keeps it in the control bucket)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := output.check(); err != nil {
				return err
			}
			return cf.withConn(cmd, zap.NewNop(), func(c *natsConn) error {
				kv, err := c.js.KeyValue(cmd.Context(), cf.cfg.ControlBucket)
				if err != nil {
					return cf.missing(err, "KV bucket", cf.cfg.ControlBucket, "")
				}
				rep, err := sweep.ReadPosture(cmd.Context(), kv)
				if err != nil {
					return err
				}
				if rep == nil {
					return fmt.Errorf("no sweep has finished yet: run a worker with --sweep-every, or use `remediator sweep`")
				}
				return printSweep(stdout, rep, output, onlyStatus)
			})
		},
	}
	cf.register(cmd.Flags())
	output.register(cmd.Flags(), "table", "json", "yaml")
	cmd.Flags().StringSliceVar(&onlyStatus, "status", nil, "print only rows of these statuses (compliant, non_compliant, unknown, not_applicable)")
	return cmd
}
