package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/remediator/remediator/worker"
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

// deadLetter is one message of the dead-letter stream.
type deadLetter struct {
	seq  uint64
	msg  *jetstream.RawStreamMsg
	hdr  nats.Header
	time time.Time
}

// listDeadLetters reads the dead-letter stream, oldest first, keeping
// those with the reason (any when "") stored at or after since.
func listDeadLetters(ctx context.Context, js jetstream.JetStream, stream, reason string, since time.Time) ([]deadLetter, error) {
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, err
	}
	info, err := st.Info(ctx)
	if err != nil {
		return nil, err
	}
	var out []deadLetter
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if reason != "" && m.Header.Get(worker.HeaderReason) != reason || m.Time.Before(since) {
			continue
		}
		out = append(out, deadLetter{seq: seq, msg: m, hdr: m.Header, time: m.Time})
	}
	return out, nil
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
				dls, err := listDeadLetters(cmd.Context(), c.js, cf.cfg.DLQStream, reason, t)
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
				st, err := c.js.Stream(cmd.Context(), cf.cfg.DLQStream)
				if err != nil {
					return err
				}
				m, err := st.GetMsg(cmd.Context(), seq)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "sequence: %d\nsubject: %s\nstored: %s\n", m.Sequence, m.Subject, m.Time.UTC().Format(time.RFC3339))
				for _, k := range sortedKeys(m.Header) {
					fmt.Fprintf(stdout, "%s: %s\n", k, strings.Join(m.Header[k], ", "))
				}
				if m.Header.Get(worker.HeaderBody) == worker.BodyStub {
					fmt.Fprintf(stdout, "body: a stub (dead-lettered as %s; the original was too large to store whole)\n", dash(m.Header.Get(worker.HeaderOriginalReason)))
				}
				fmt.Fprintf(stdout, "\n%s\n", m.Data)
				return nil
			})
		},
	}
	redrive := &cobra.Command{
		Use: "redrive", Short: "Republish dead letters to their original subject; each leaves the DLQ only after the publish is acknowledged", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withConn(&cf, connLogger(cmd), func(c *natsConn) error { return redriveDeadLetters(cmd.Context(), stdout, c.js, cf.cfg, reason, dry) })
		},
	}
	redrive.Flags().StringVar(&reason, "reason", "", "only this reason")
	redrive.Flags().BoolVar(&dry, "dry-run", false, "show what would be redriven")
	purge := &cobra.Command{
		Use: "purge", Short: "Delete dead letters (all, or --reason)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withConn(&cf, connLogger(cmd), func(c *natsConn) error { return purgeDeadLetters(cmd.Context(), stdout, c.js, cf.cfg, reason) })
		},
	}
	purge.Flags().StringVar(&reason, "reason", "", "only this reason")
	cmd.AddCommand(list, show, redrive, purge)
	return cmd
}

func printDeadLetters(w io.Writer, dls []deadLetter) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tSTORED\tREASON\tCODE\tRULE\tATTEMPTS\tEVENT ID\tORIGINAL SUBJECT")
	for _, d := range dls {
		id := eventID(d.hdr, d.msg.Data)
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.seq, d.time.UTC().Format(time.RFC3339), dash(d.hdr.Get(worker.HeaderReason)),
			dash(d.hdr.Get(worker.HeaderErrorCode)), dash(d.hdr.Get(worker.HeaderRule)), dash(d.hdr.Get(worker.HeaderAttempts)), id,
			d.hdr.Get(worker.HeaderOriginalSubject))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d dead letters\n", len(dls))
}

// redriveDeadLetters republishes each dead letter with its original
// headers (without the Remediator-* ones) and a fresh Nats-Msg-Id, then
// deletes it from the DLQ once the intake acknowledged it.
func redriveDeadLetters(ctx context.Context, w io.Writer, js jetstream.JetStream, cfg worker.Config, reason string, dry bool) error {
	dls, err := listDeadLetters(ctx, js, cfg.DLQStream, reason, time.Time{})
	if err != nil {
		return err
	}
	st, err := js.Stream(ctx, cfg.DLQStream)
	if err != nil {
		return err
	}
	n := 0
	for _, d := range dls {
		subject := d.hdr.Get(worker.HeaderOriginalSubject)
		if subject == "" {
			fmt.Fprintf(w, "skip %d: no %s header\n", d.seq, worker.HeaderOriginalSubject)
			continue
		}
		if !intakeSubject(cfg, subject) {
			// Only a subject the worker itself would build is used: a dead
			// letter is data, and a long or odd subject can get the
			// connection closed by the server.
			fmt.Fprintf(w, "skip %d: %s is not an intake subject\n", d.seq, worker.HeaderOriginalSubject)
			continue
		}
		if d.hdr.Get(worker.HeaderBody) == worker.BodyStub {
			fmt.Fprintf(w, "skip %d: its body is a stub, the original was too large to store\n", d.seq)
			continue
		}
		if dry {
			fmt.Fprintf(w, "would redrive %d to %s\n", d.seq, subject)
			continue
		}
		h := nats.Header{}
		for k, v := range d.hdr {
			if !strings.HasPrefix(k, "Remediator-") && !strings.HasPrefix(k, "Nats-") {
				h[k] = v
			}
		}
		h.Set(jetstream.MsgIDHeader, fmt.Sprintf("redrive:%s:%d", cfg.DLQStream, d.seq))
		if _, err := js.PublishMsg(ctx, &nats.Msg{Subject: subject, Header: h, Data: d.msg.Data}); err != nil {
			return fmt.Errorf("redrive %d: %w (it stays in the DLQ)", d.seq, err)
		}
		if err := st.DeleteMsg(ctx, d.seq); err != nil {
			return fmt.Errorf("redriven %d but not deleted from the DLQ: %w", d.seq, err)
		}
		n++
	}
	if !dry {
		fmt.Fprintf(w, "redriven %d\n", n)
	}
	return nil
}

// intakeSubject reports whether subject is one the intake's subjects
// cover, with one bounded, safe token after the prefix, as
// worker.Config.IntakeSubject builds them.
func intakeSubject(cfg worker.Config, subject string) bool {
	prefix := strings.TrimSuffix(strings.TrimSuffix(cfg.WithDefaults().Subject, ">"), ".") + "."
	tok, ok := strings.CutPrefix(subject, prefix)
	return ok && tok != "" && tok == worker.SubjectToken(tok)
}

func purgeDeadLetters(ctx context.Context, w io.Writer, js jetstream.JetStream, cfg worker.Config, reason string) error {
	st, err := js.Stream(ctx, cfg.DLQStream)
	if err != nil {
		return err
	}
	if reason == "" {
		info, err := st.Info(ctx)
		if err != nil {
			return err
		}
		if err := st.Purge(ctx); err != nil {
			return err
		}
		fmt.Fprintf(w, "purged %d\n", info.State.Msgs)
		return nil
	}
	dls, err := listDeadLetters(ctx, js, cfg.DLQStream, reason, time.Time{})
	if err != nil {
		return err
	}
	for _, d := range dls {
		if err := st.DeleteMsg(ctx, d.seq); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "purged %d\n", len(dls))
	return nil
}

// eventID is the CloudEvent id of a dead letter: the ce-id header in
// binary mode, the body's id in structured mode, "-" when neither.
func eventID(h nats.Header, body []byte) string {
	if id := h.Get("ce-id"); id != "" {
		return id
	}
	var ev struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(body, &ev) == nil && ev.ID != "" {
		return ev.ID
	}
	return "-"
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
