package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/audit"
)

func newAuditCmd(stdout io.Writer) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{Use: "audit", Short: "Read the audit trail"}
	cf.register(cmd)
	var all bool
	var count int
	tail := &cobra.Command{
		Use: "tail", Short: "Follow audit events readably (--all from the start, --count N then exit)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return withConn(&cf, connLogger(cmd), func(c *natsConn) error { return tailAudit(ctx, stdout, c.js, cf.cfg, all, count) })
		},
	}
	tail.Flags().BoolVar(&all, "all", false, "start from the oldest audit event (default: new ones only)")
	tail.Flags().IntVar(&count, "count", 0, "exit after this many events (0: follow until interrupted)")
	cmd.AddCommand(tail)
	return cmd
}

func tailAudit(ctx context.Context, w io.Writer, js jetstream.JetStream, cfg worker.Config, all bool, count int) error {
	oc := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverNewPolicy}
	if all {
		oc.DeliverPolicy = jetstream.DeliverAllPolicy
	}
	cons, err := js.OrderedConsumer(ctx, cfg.AuditStream, oc)
	if err != nil {
		return err
	}
	for n := 0; count == 0 || n < count; n++ {
		m, err := cons.Next(jetstream.FetchContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		fmt.Fprintln(w, auditLine(m.Data()))
	}
	return nil
}

// auditLine renders one audit CloudEvent as a line.
func auditLine(body []byte) string {
	var ev struct {
		Time string       `json:"time"`
		Data audit.Record `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return "unreadable audit event: " + err.Error()
	}
	d := ev.Data
	t, _ := time.Parse(time.RFC3339Nano, ev.Time)
	line := fmt.Sprintf("%s  %-17s %-40s %-40s resource=%s", t.UTC().Format("2006-01-02T15:04:05Z"), d.Outcome, d.Rule, d.Action, dash(d.Resource))
	if d.Reason != "" {
		line += " reason=" + d.Reason
	}
	if d.Code != "" {
		line += " code=" + d.Code
	}
	if d.Before != "" || d.After != "" {
		line += fmt.Sprintf(" [%s -> %s]", d.Before, d.After)
	}
	return line + " event=" + d.Event.ID
}

func sortStrings(s []string) { sort.Strings(s) }
