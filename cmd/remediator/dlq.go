package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/action"
	"github.com/remediator/remediator/worker/streams"
)

func newDLQCmd(stdout io.Writer) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{Use: "dlq", Short: "List, show, redrive and purge dead-lettered events"}
	cf.register(cmd.PersistentFlags(), "dlq-stream", "subject")
	var reason, since string
	var dry bool
	var out outputFlag
	list := &cobra.Command{
		Use: "list", Short: "List dead letters (--reason, --since 1h or an RFC 3339 time; -o table, json or yaml)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := out.check(); err != nil {
				return err
			}
			t, err := parseSince(since)
			if err != nil {
				return err
			}
			return cf.withConn(cmd, connLogger(cmd), func(c *natsConn) error {
				dls, err := streams.ListDeadLetters(cmd.Context(), c.js, cf.cfg.Streams(), streams.DeadLetterFilter{Reason: action.Reason(reason), Since: t})
				if err != nil {
					return cf.missing(err, "stream", cf.cfg.DLQStream, "--dlq-stream")
				}
				if out.format == "table" {
					printDeadLetters(stdout, dls)
					return nil
				}
				rows := make([]deadLetterOut, 0, len(dls))
				for _, d := range dls {
					rows = append(rows, deadLetterRow(d, false))
				}
				return out.write(stdout, rows)
			})
		},
	}
	list.Flags().StringVar(&reason, "reason", "", "only this reason")
	list.Flags().StringVar(&since, "since", "", "only dead letters stored since a duration ago (1h) or a time (RFC 3339)")
	out.register(list.Flags(), "table", "json", "yaml")
	var showOut outputFlag
	show := &cobra.Command{
		Use: "show SEQ", Short: "Print one dead letter: headers and the original body (-o table, json or yaml)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := showOut.check(); err != nil {
				return err
			}
			seq, err := strconv.ParseUint(args[0], 10, 64)
			if err != nil || seq == 0 {
				return fmt.Errorf("SEQ %q: want a dead letter's sequence number, as `remediator dlq list` shows it", args[0])
			}
			return cf.withConn(cmd, connLogger(cmd), func(c *natsConn) error {
				d, err := streams.ShowDeadLetter(cmd.Context(), c.js, cf.cfg.Streams(), seq)
				if errors.Is(err, jetstream.ErrMsgNotFound) {
					return fmt.Errorf("no dead letter %d in %s (`remediator dlq list` lists those there)", seq, cf.cfg.DLQStream)
				}
				if err != nil {
					return cf.missing(err, "stream", cf.cfg.DLQStream, "--dlq-stream")
				}
				if showOut.format == "table" {
					printDeadLetter(stdout, d)
					return nil
				}
				return showOut.write(stdout, deadLetterRow(d, true))
			})
		},
	}
	showOut.register(show.Flags(), "table", "json", "yaml")
	redrive := &cobra.Command{
		Use: "redrive", Short: "Republish dead letters to their original subject; each leaves the DLQ only after the publish is acknowledged", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cf.withConn(cmd, connLogger(cmd), func(c *natsConn) error {
				return cf.missing(runRedrive(cmd.Context(), stdout, c.js, cf.cfg, reason, dry), "stream", cf.cfg.DLQStream, "--dlq-stream")
			})
		},
	}
	redrive.Flags().StringVar(&reason, "reason", "", "only this reason")
	redrive.Flags().BoolVar(&dry, "dry-run", false, "show what would be redriven")
	purge := &cobra.Command{
		Use: "purge", Short: "Delete dead letters (all, or --reason)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return cf.withConn(cmd, connLogger(cmd), func(c *natsConn) error {
				return cf.missing(runPurge(cmd.Context(), stdout, c.js, cf.cfg, reason), "stream", cf.cfg.DLQStream, "--dlq-stream")
			})
		},
	}
	purge.Flags().StringVar(&reason, "reason", "", "only this reason")
	cmd.AddCommand(list, show, redrive, purge)
	return cmd
}

// parseSince reads --since: a duration back from now (1h) or an RFC 3339
// time; "" is no bound.
func parseSince(since string) (time.Time, error) {
	if since == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(since); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("--since %s: want a duration back from now (1h, 30m) or an RFC 3339 time", since)
		}
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, since)
	if err != nil {
		return time.Time{}, fmt.Errorf("--since %s: want a duration back from now (1h, 30m) or an RFC 3339 time (2026-01-02T15:04:05Z)", since)
	}
	return t, nil
}

// deadLetterOut is a dead letter in -o json and yaml: the field names are
// documented in README (Operations) and stay as they are.
type deadLetterOut struct {
	Sequence         uint64              `json:"sequence"`
	Subject          string              `json:"subject"`
	Stored           time.Time           `json:"stored"`
	Reason           string              `json:"reason"`
	Code             string              `json:"code"`
	Error            string              `json:"error"`
	Rule             string              `json:"rule"`
	Action           string              `json:"action"`
	Attempts         int                 `json:"attempts"`
	EventID          string              `json:"event_id"`
	OriginalSubject  string              `json:"original_subject"`
	OriginalStream   string              `json:"original_stream"`
	OriginalSequence uint64              `json:"original_sequence"`
	FailedAt         *time.Time          `json:"failed_at,omitempty"`
	FirstFailure     *time.Time          `json:"first_failure,omitempty"`
	Stub             bool                `json:"stub"`
	OriginalReason   string              `json:"original_reason,omitempty"`
	Headers          map[string][]string `json:"headers,omitempty"`
	Data             *string             `json:"data,omitempty"`
	DataBase64       []byte              `json:"data_base64,omitempty"`
}

// deadLetterRow is d for -o json and yaml; full adds the headers and the
// body (as text, or base64 when it is not UTF-8).
func deadLetterRow(d streams.DeadLetter, full bool) deadLetterOut {
	o := deadLetterOut{Sequence: d.Sequence, Subject: d.Subject, Stored: d.Stored.UTC(), Reason: string(d.Reason), Code: d.Code, Error: d.Error,
		Rule: d.Rule, Action: d.Action, Attempts: d.Attempts, EventID: d.EventID, OriginalSubject: d.OriginalSubject,
		OriginalStream: d.OriginalStream, OriginalSequence: d.OriginalSequence, Stub: d.Stub, OriginalReason: string(d.OriginalReason)}
	if !d.FailedAt.IsZero() {
		t := d.FailedAt.UTC()
		o.FailedAt = &t
	}
	if !d.FirstFailure.IsZero() {
		t := d.FirstFailure.UTC()
		o.FirstFailure = &t
	}
	if full {
		o.Headers = map[string][]string(d.Header)
		if utf8.Valid(d.Data) {
			s := string(d.Data)
			o.Data = &s
		} else {
			o.DataBase64 = d.Data
		}
	}
	return o
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
