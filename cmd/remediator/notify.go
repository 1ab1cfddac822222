package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"go.uber.org/zap"

	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/notify"
)

// notifyFlags are the notifier's options, for `notify` and for run's
// --notify-sinks.
type notifyFlags struct {
	sinks       string
	retryMax    time.Duration
	timeout     time.Duration
	concurrency int
}

// register adds the options; prefix names them inside run
// (--notify-sinks, --notify-retry-max...).
func (f *notifyFlags) register(fs *pflag.FlagSet, prefix string) {
	help := "YAML file of notification sinks (webhook, slack; see README Notifications)"
	if prefix != "" {
		help += "; empty: no notifications"
	}
	fs.StringVar(&f.sinks, prefix+"sinks", "", help)
	fs.DurationVar(&f.retryMax, prefix+"retry-max", time.Minute, "longest wait between tries of a sink that fails (the wait starts at 1s and doubles)")
	fs.DurationVar(&f.timeout, prefix+"timeout", 10*time.Second, "timeout of one request to a sink")
	fs.IntVar(&f.concurrency, prefix+"concurrency", 4, "requests in flight per sink")
}

// build loads the sinks file and reads the sinks' secrets; nil when no
// file is given. Errors name the file:line or the sink, never a secret.
func (f *notifyFlags) build(cfg worker.Config, reg prometheus.Registerer, log *zap.Logger) (*notify.Notifier, error) {
	if f.sinks == "" {
		return nil, nil
	}
	sinks, err := notify.Load(f.sinks)
	if err != nil {
		return nil, err
	}
	return notify.New(sinks, notify.Options{
		Stream: cfg.AuditStream, Subject: cfg.AuditSubject, RetryMax: f.retryMax, Timeout: f.timeout,
		Concurrency: f.concurrency, Logger: log, Metrics: notify.NewMetrics(reg),
	})
}

// startNotifier runs n beside the worker; stop ends it and waits for it.
// A notifier that cannot start (its consumers) is logged and does not
// stop the worker: notifications are not remediation.
func startNotifier(ctx context.Context, n *notify.Notifier, js jetstream.JetStream, log *zap.Logger) (stop func()) {
	if n == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := n.Run(ctx, js); err != nil {
			log.Error("notify_failed", zap.Error(err))
		}
	}()
	return func() { cancel(); <-done }
}

func newNotifyCmd(stderr io.Writer) *cobra.Command {
	var (
		cf                   clientFlags
		nf                   notifyFlags
		opsListen, logFormat string
		level                logLevel
	)
	cmd := &cobra.Command{
		Use:   "notify",
		Short: "Deliver audit records to webhooks and Slack (--sinks FILE); each sink has its own durable consumer on the audit stream",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if nf.sinks == "" {
				return fmt.Errorf("--sinks FILE is required (see README Notifications)")
			}
			log, err := newLoggerAt(stderr, logFormat, level.level)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return cf.withConn(cmd, log, func(c *natsConn) error {
				reg := newBaseRegistry()
				n, err := nf.build(cf.cfg, reg, log) // the streams' names as the settings resolved them
				if err != nil {
					return err
				}
				if opsListen != "" {
					ops, err := serveOps(opsOptions{listen: opsListen}, reg, log, readyCheck{"not connected to NATS", c.connected})
					if err != nil {
						return err
					}
					defer ops.close()
				}
				err = n.Run(ctx, c.js)
				log.Info("shutdown_complete")
				return err
			})
		},
	}
	fs := cmd.Flags()
	cf.register(fs, "audit-stream")
	nf.register(fs, "")
	fs.StringVar(&cf.cfg.AuditSubject, "audit-subject", cf.cfg.AuditSubject, "prefix of the audit subjects (<prefix>.<outcome>)")
	fs.StringVar(&opsListen, "http", "", "serve /metrics, /healthz and /readyz on this address (e.g. 127.0.0.1:9465); empty: off")
	fs.StringVar(&logFormat, "log-format", "json", "json or console")
	fs.Var(&level, "log-level", logLevelUsage)
	return cmd
}
