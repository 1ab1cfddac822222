package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/streams"
)

// clientFlags are the connection flags of the tool commands.
type clientFlags struct {
	natsURL string
	auth    natsAuth
	cfg     worker.Config
}

func (c *clientFlags) register(cmd *cobra.Command) {
	c.cfg = worker.DefaultConfig()
	cmd.PersistentFlags().StringVar(&c.natsURL, "nats-url", "", "NATS server URL (env NATS_URL, default nats://127.0.0.1:4222)")
	c.auth.register(cmd.PersistentFlags())
	cmd.PersistentFlags().StringVar(&c.cfg.DLQStream, "dlq-stream", c.cfg.DLQStream, "dead-letter stream")
	cmd.PersistentFlags().StringVar(&c.cfg.AuditStream, "audit-stream", c.cfg.AuditStream, "audit stream")
}

func newDLQCmd(stdout io.Writer) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{Use: "dlq", Short: "List, show, redrive and purge dead-lettered events"}
	cf.register(cmd)
	var reason, since string
	var dry bool
	sinceTime := func() (time.Time, error) {
		if since == "" {
			return time.Time{}, nil
		}
		if d, err := time.ParseDuration(since); err == nil {
			return time.Now().Add(-d), nil
		}
		return time.Parse(time.RFC3339, since)
	}
	list := &cobra.Command{
		Use: "list", Short: "List dead letters (--reason, --since 1h or an RFC 3339 time)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			t, err := sinceTime()
			if err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			return withConn(&cf, connLogger(cmd), func(c *natsConn) error {
				dls, err := streams.ListDeadLetters(cmd.Context(), c.js, cf.cfg.Streams(), streams.DeadLetterFilter{Reason: action.Reason(reason), Since: t})
				if err != nil {
					return err
				}
				printDeadLetters(stdout, dls)
				return nil
			})
		},
	}
	list.Flags().StringVar(&reason, "reason", "", "only this reason")
	list.Flags().StringVar(&since, "since", "", "only dead letters stored since a duration ago (1h) or a time (RFC 3339)")
	show := &cobra.Command{
		Use: "show SEQ", Short: "Print one dead letter: headers and the original body", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var seq uint64
			if _, err := fmt.Sscan(args[0], &seq); err != nil {
				return fmt.Errorf("SEQ: %w", err)
			}
			return withConn(&cf, connLogger(cmd), func(c *natsConn) error {
				d, err := streams.ShowDeadLetter(cmd.Context(), c.js, cf.cfg.Streams(), seq)
				if err != nil {
					return err
				}
				printDeadLetter(stdout, d)
				return nil
			})
		},
	}
	redrive := &cobra.Command{
		Use: "redrive", Short: "Republish dead letters to their original subject; each leaves the DLQ only after the publish is acknowledged", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withConn(&cf, connLogger(cmd), func(c *natsConn) error { return runRedrive(cmd.Context(), stdout, c.js, cf.cfg, reason, dry) })
		},
	}
	redrive.Flags().StringVar(&reason, "reason", "", "only this reason")
	redrive.Flags().BoolVar(&dry, "dry-run", false, "show what would be redriven")
	purge := &cobra.Command{
		Use: "purge", Short: "Delete dead letters (all, or --reason)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withConn(&cf, connLogger(cmd), func(c *natsConn) error { return runPurge(cmd.Context(), stdout, c.js, cf.cfg, reason) })
		},
	}
	purge.Flags().StringVar(&reason, "reason", "", "only this reason")
	cmd.AddCommand(list, show, redrive, purge)
	return cmd
}

func printDeadLetters(w io.Writer, dls []streams.DeadLetter) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tSTORED\tREASON\tCODE\tRULE\tATTEMPTS\tEVENT ID\tORIGINAL SUBJECT")
	for _, d := range dls {
		attempts := ""
		if d.Attempts > 0 {
			attempts = strconv.Itoa(d.Attempts)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Sequence, d.Stored.UTC().Format(time.RFC3339), dash(string(d.Reason)),
			dash(d.Code), dash(d.Rule), dash(attempts), dash(d.EventID), d.OriginalSubject)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d dead letters\n", len(dls))
}

// printDeadLetter prints one dead letter: its headers, then its body.
func printDeadLetter(w io.Writer, d streams.DeadLetter) {
	fmt.Fprintf(w, "sequence: %d\nsubject: %s\nstored: %s\n", d.Sequence, d.Subject, d.Stored.UTC().Format(time.RFC3339))
	for _, k := range sortedKeys(d.Header) {
		fmt.Fprintf(w, "%s: %s\n", k, strings.Join(d.Header[k], ", "))
	}
	if d.Stub {
		fmt.Fprintf(w, "body: a stub (dead-lettered as %s; the original was too large to store whole)\n", dash(string(d.OriginalReason)))
	}
	fmt.Fprintf(w, "\n%s\n", d.Data)
}

// runRedrive runs dlq redrive and prints what became of each dead letter.
func runRedrive(ctx context.Context, w io.Writer, js jetstream.JetStream, cfg worker.Config, reason string, dry bool) error {
	rs, err := streams.RedriveDeadLetters(ctx, js, cfg.Streams(), streams.DeadLetterFilter{Reason: action.Reason(reason)}, dry)
	n := 0
	for _, r := range rs {
		switch {
		case r.Skipped != "":
			fmt.Fprintf(w, "skip %d: %s\n", r.Sequence, r.Skipped)
		case dry:
			fmt.Fprintf(w, "would redrive %d to %s\n", r.Sequence, r.Subject)
		default:
			n++
		}
	}
	if err != nil {
		return err
	}
	if !dry {
		fmt.Fprintf(w, "redriven %d\n", n)
	}
	return nil
}

// runPurge runs dlq purge.
func runPurge(ctx context.Context, w io.Writer, js jetstream.JetStream, cfg worker.Config, reason string) error {
	n, err := streams.PurgeDeadLetters(ctx, js, cfg.Streams(), streams.DeadLetterFilter{Reason: action.Reason(reason)})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "purged %d\n", n)
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sortedKeys(h nats.Header) []string {
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sortStrings(keys)
	return keys
}
