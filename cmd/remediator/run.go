package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/remediator/remediator/rules"
	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/audit"
)

// workerFlags are the flags shared by run and demo.
type workerFlags struct {
	tracer    trace.TracerProvider
	cfg       worker.Config
	rules     []string
	builtin   bool
	rulesPoll time.Duration
	ruleLimit rules.Limits
	// sweepEvery (run only): sweep every period on one replica; 0: never.
	sweepEvery time.Duration
	sweep      sweepFlags
	// notify (run only): --notify-sinks and its options (notify.go).
	notify notifyFlags
}

func (f *workerFlags) register(fs *pflag.FlagSet) {
	d := worker.DefaultConfig()
	f.cfg = d
	fs.StringSliceVar(&f.rules, "rules", nil, "rule files or directories (default: the built-in pack)")
	fs.BoolVar(&f.builtin, "builtin", false, "load the built-in pack beside --rules (e.g. with a file holding only your policy)")
	registerRuleLimits(fs, &f.ruleLimit)
	fs.DurationVar(&f.rulesPoll, "rules-poll", 2*time.Second, "how often rule files are checked for changes (SIGHUP reloads at once)")
	fs.StringVar(&f.cfg.Stream, "stream", d.Stream, "intake stream")
	fs.StringVar(&f.cfg.Subject, "subject", d.Subject, "intake subjects")
	fs.StringVar(&f.cfg.Consumer, "consumer", d.Consumer, "durable consumer shared by all replicas")
	fs.StringVar(&f.cfg.DLQStream, "dlq-stream", d.DLQStream, "dead-letter stream")
	fs.StringVar(&f.cfg.DLQSubject, "dlq-subject", d.DLQSubject, "dead-letter subject prefix")
	fs.IntVar(&f.cfg.Concurrency, "concurrency", d.Concurrency, "events handled at once")
	fs.IntVar(&f.cfg.Prefetch, "prefetch", d.Prefetch, "messages pulled ahead of the handlers (at least --concurrency; 0: 8 per handler, at least 64, at most the consumer's max ack pending, 1000); each waits there with its ack wait running, so keep it well under --ack-wait times the slowest event rate")
	fs.IntVar(&f.cfg.MaxDeliver, "max-deliver", d.MaxDeliver, "attempts before an event is dead-lettered")
	fs.IntVar(&f.cfg.MaxWaits, "max-waits", d.MaxWaits, "deliveries that only waited for another delivery's lease (or were handed back at shutdown), allowed beyond --max-deliver")
	fs.DurationVar(&f.cfg.CloudTimeout, "cloud-timeout", 0, "timeout of one cloud call, at most half of --ack-wait (0: 10s, or half of --ack-wait if shorter); a write is sent only while its lease outlasts it")
	fs.IntVar(&f.cfg.MaxEventBytes, "max-event-bytes", d.MaxEventBytes, "larger events are dead-lettered as too_large")
	fs.DurationVar(&f.cfg.AckWait, "ack-wait", d.AckWait, "consumer ack wait")
	fs.DurationVar(&f.cfg.RetryBase, "retry-base", d.RetryBase, "first retry delay")
	fs.DurationVar(&f.cfg.ThrottleBase, "throttle-base", d.ThrottleBase, "first retry delay after throttling")
	fs.DurationVar(&f.cfg.RetryMax, "retry-max", d.RetryMax, "longest retry delay")
	fs.DurationVar(&f.cfg.ShutdownTimeout, "shutdown-timeout", d.ShutdownTimeout, "time in-flight work gets to finish at shutdown")
	fs.DurationVar(&f.cfg.CoalesceFor, "coalesce-for", d.CoalesceFor, "how long a read that found an action compliant answers the events about it stored before the read (0: off, every event reads)")
	fs.BoolVar(&f.cfg.DryRun, "dry-run", false, "plan every action and write nothing")
	fs.IntVar(&f.cfg.GlobalWriteLimit, "global-write-limit", 0, "most writes of all rules together per --global-write-window (0: no limit); past it the global circuit opens")
	fs.DurationVar(&f.cfg.GlobalWriteWindow, "global-write-window", d.GlobalWriteWindow, "window of --global-write-limit")
	fs.DurationVar(&f.cfg.CircuitCooldown, "circuit-cooldown", d.CircuitCooldown, "how long an open circuit holds unless an operator resumes it")
	fs.IntVar(&f.cfg.Replicas, "replicas", d.Replicas, "replicas of the streams and the ledger (3 on a NATS cluster)")
	fs.StringSliceVar(&f.cfg.SelfPrincipals, "self-principal", nil, "the worker's own cloud identities (principal id or user name): changes they made are not acted on")
	fs.StringSliceVar(&f.cfg.TrustedSources, "trusted-source", nil, "only act on events from these sources (globs as in rules: *, ?; anything else exact); default any")
	fs.StringSliceVar(&f.cfg.TrustedAccounts, "trusted-account", nil, "only act on events about these accounts; default any")
	fs.DurationVar(&f.cfg.ApprovalCheck, "approval-check", d.ApprovalCheck, "how often approvals past their TTL are expired (and decided ones no worker settled announced again)")
}

func newRunCmd(stderr io.Writer) *cobra.Command {
	var (
		wf                       workerFlags
		natsURL, dataDir, listen string
		auth                     natsAuth
		cloudEndpoint, logFormat string
		accountsPath, opsListen  string
		otelEndpoint             string
		approvalsTokenFile       string
		pacing, pprof            bool
		rateFlags                []string
		gcPercent                int
		level                    logLevel
	)
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Consume events and remediate (embedded JetStream unless --nats-url is given)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := configure(cmd); err != nil {
				return err
			}
			// The service's log lines (one per decision) are written in
			// batches: at most every logFlush, or when logBuffer fills, and
			// at exit. A line costs no write of its own on the event's path.
			out := &zapcore.BufferedWriteSyncer{WS: zapcore.AddSync(stderr), Size: logBuffer, FlushInterval: logFlush}
			defer func() { _ = out.Stop() }()
			log, err := newLoggerAt(out, logFormat, level.level)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			if gcPercent < 0 {
				return fmt.Errorf("--gc-percent %d: want 0 (Go's own) or more", gcPercent)
			}
			if p, set := applyGCPercent(gcPercent); set {
				log.Debug("gc_percent", zap.Int("percent", p))
			}
			if natsURL == "" {
				natsURL = os.Getenv("NATS_URL")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			opts, err := auth.options()
			if err != nil {
				return err
			}
			tp, err := newTracing(ctx, otelEndpoint)
			if err != nil {
				return err
			}
			if tp != nil {
				wf.tracer = tp
				defer func() { _ = tp.Shutdown(context.WithoutCancel(ctx)) }()
			}
			rates, err := paceRates(pacing, rateFlags)
			if err != nil {
				return err
			}
			oo := opsOptions{listen: opsListen, pprof: pprof}
			if approvalsTokenFile != "" {
				if opsListen == "" {
					return errors.New("--approvals-token-file serves the approvals API on the --http address: give --http too")
				}
				tok, err := readToken(approvalsTokenFile)
				if err != nil {
					return err
				}
				oo.approvals = &approvalsAPI{token: tok, cfg: wf.cfg, log: log}
			}
			return runWorker(ctx, log, wf, natsURL, dataDir, listen, providerConfig{cloudEndpoint: cloudEndpoint, accountsPath: accountsPath,
				rates: rates, timeout: wf.cfg.WithDefaults().CloudTimeout}, oo, opts...)
		},
	}
	fs := cmd.Flags()
	wf.register(fs)
	fs.StringVar(&natsURL, "nats-url", "", "NATS server URL (env NATS_URL); empty: start an embedded JetStream server")
	auth.register(fs)
	fs.StringVar(&dataDir, "data-dir", defaultDataDir(), "embedded server data directory; one run at a time: locked while in use")
	fs.StringVar(&listen, "embedded-listen", "127.0.0.1:4222", "client address of the embedded server (empty: in-process only)")
	fs.StringVar(&cloudEndpoint, "cloud-endpoint", "", "send every provider call to this URL, e.g. http://127.0.0.1:8099 (the simulator)")
	fs.StringVar(&logFormat, "log-format", "json", "json or console")
	fs.Var(&level, "log-level", logLevelUsage)
	fs.StringVar(&accountsPath, "accounts", "", "YAML file naming the credentials of each cloud account (see README)")
	fs.String("config", "", "YAML configuration file (keys are these options with underscores; flags and REMEDIATOR_* variables win)")
	fs.BoolVar(&pacing, "pacing", true, "pace cloud calls per provider, account, region and API at the providers' documented rates (see README)")
	fs.StringSliceVar(&rateFlags, "rate", nil, "API=PER_SECOND[:BURST] over the documented rates: an API (kms.describe-key), a service sharing one bucket (kms) or * for every other API; 0 turns a bucket off")
	fs.StringVar(&otelEndpoint, "otel-endpoint", "", "export OpenTelemetry traces over OTLP/HTTP to this URL (e.g. http://127.0.0.1:4318); empty: off")
	fs.StringVar(&opsListen, "http", "", "serve /metrics, /healthz and /readyz on this address (e.g. 127.0.0.1:9464); empty: off")
	fs.DurationVar(&wf.sweepEvery, "sweep-every", 0, "sweep every period on one replica at a time and publish the findings of what is not compliant (see `remediator sweep`); 0: never")
	fs.StringSliceVar(&wf.sweep.accounts, "sweep-account", nil, "an account to sweep besides those --accounts and the policy name: huawei=DOMAIN_ID or alibaba=ACCOUNT_ID (repeatable)")
	fs.IntVar(&wf.sweep.concurrency, "sweep-concurrency", 4, "resources a sweep reads at once (pacing bounds the rate)")
	fs.IntVar(&gcPercent, "gc-percent", defaultGCPercent, "the Go garbage collector's GOGC: how far the heap grows past what is live before a collection; the default spends memory (a heap of about 60 MiB with the built-in rules) to save CPU; 0: Go's own (100); GOGC in the environment wins")
	wf.notify.register(fs, "notify-") // notifications beside the worker (notify.go)
	fs.StringVar(&approvalsTokenFile, "approvals-token-file", "", "serve the approvals API (/approvals) on the --http address to requests bearing this file's token (README, Approvals); empty: off")
	fs.BoolVar(&pprof, "pprof", false, "also serve Go's profiles under /debug/pprof/ on the --http address (CPU, heap, goroutines; for diagnosing, not for an address others can reach)")
	return cmd
}

// run's log lines are flushed every logFlush, or when logBuffer bytes wait.
const (
	logFlush  = 50 * time.Millisecond
	logBuffer = 64 << 10
)

// runWorker runs the worker until ctx ends. The ops server comes first:
// while NATS cannot be reached at start-up, /healthz answers and /readyz
// says not ready, and the connection is retried (a pod waits rather than
// crash-looping); a signal meanwhile ends the wait with exit 0.
func runWorker(ctx context.Context, log *zap.Logger, wf workerFlags, natsURL, dataDir, listen string, pc providerConfig, oo opsOptions, opts ...nats.Option) error {
	conn, err := newNATSConn(natsURL, dataDir, listen, log, opts...)
	if err != nil {
		return err
	}
	defer conn.close()
	prov, err := buildProviders(pc, log)
	if err != nil {
		return err
	}
	reg := prov.actions
	sc, err := wf.sweep.scope(prov.accounts)
	if err != nil {
		return err
	}
	fp := fingerprint(wf.rules)
	set, err := loadRulesLimited(reg, wf.rules, wf.builtin, wf.ruleLimit)
	if err != nil {
		return fmt.Errorf("rules:\n%w", err)
	}
	promReg, metrics := newRegistry()
	notifier, err := wf.notify.build(wf.cfg, promReg, log) // nil without --notify-sinks
	if err != nil {
		return err
	}
	var cp atomic.Pointer[natsConn]
	var wp atomic.Pointer[worker.Worker]
	if oo.approvals != nil {
		oo.approvals.conn = cp.Load
	}
	if oo.listen != "" {
		connected := func() bool { c := cp.Load(); return c != nil && c.connected() }
		ops, err := startOps(oo, promReg, connected, func() bool { w := wp.Load(); return w != nil && w.Ready() }, log)
		if err != nil {
			return err
		}
		defer ops.close()
	}
	records, err := openRetrying(ctx, log, conn)
	if err != nil {
		if ctx.Err() != nil { // stopped while waiting for NATS
			log.Info("shutdown_complete")
			return nil
		}
		return err
	}
	cp.Store(conn)
	worker.RegisterDLQDepth(promReg, conn.js, wf.cfg)
	rec := audit.NewStream(records, wf.cfg.AuditConfig())
	w, done, err := startWorker(ctx, wf.cfg, worker.Deps{JetStream: conn.js, Rules: set, Actions: reg, Recorder: rec, Logger: log, Metrics: metrics, Tracer: wf.tracer})
	if err != nil {
		return err
	}
	wp.Store(w)
	w.RegisterState(promReg)
	defer startNotifier(ctx, notifier, conn.js, log)() // notify.go
	if wf.sweepEvery > 0 {
		// Stopped and waited for before the connection closes.
		defer startRunner(ctx, newSchedule(ctx, conn, w, prov, sc, wf, promReg, log))()
	}
	if len(wf.rules) > 0 {
		rw := &ruleWatch{log: log, reg: reg, paths: wf.rules, builtin: wf.builtin, limits: wf.ruleLimit, w: w, metrics: metrics, interval: wf.rulesPoll, running: set, last: fp}
		go rw.run(ctx)
	}
	err = <-done
	log.Info("shutdown_complete")
	return err
}
