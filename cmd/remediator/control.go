package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/spf13/cobra"

	"github.com/remediator/remediator/worker/guard"
)

// newControlCmd pauses and resumes remediation for every replica at once,
// by pausing the shared durable consumer on the server: no replica is
// handed an event while it is paused, in-flight work finishes, and events
// wait in the stream (they are not redelivered, so no attempt is spent).
func newControlCmd(stdout io.Writer) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{Use: "control", Short: "Pause or resume remediation across all replicas"}
	cf.register(cmd.PersistentFlags(), "stream", "consumer")
	var dur time.Duration
	pause := &cobra.Command{
		Use: "pause", Short: "Stop handing events to every replica (--for D, default until resumed)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			until := time.Now().Add(100 * 365 * 24 * time.Hour)
			if dur > 0 {
				until = time.Now().Add(dur)
			}
			return cf.withConn(cmd, connLogger(cmd), func(c *natsConn) error {
				r, err := c.js.PauseConsumer(cmd.Context(), cf.cfg.Stream, cf.cfg.Consumer, until)
				if err != nil {
					return cf.consumerMissing(err)
				}
				fmt.Fprintf(stdout, "paused until %s\n", r.PauseUntil.UTC().Format(time.RFC3339))
				return nil
			})
		},
	}
	pause.Flags().DurationVar(&dur, "for", 0, "resume on its own after this long")
	resume := &cobra.Command{
		Use: "resume [RULE]", Short: "Resume handing events to the replicas, or close a rule's circuit (" + guard.GlobalCircuit + " for the global one)",
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return cf.withConn(cmd, connLogger(cmd), func(c *natsConn) error {
				if len(args) == 1 {
					return resumeCircuit(cmd, stdout, c, &cf, args[0])
				}
				if _, err := c.js.ResumeConsumer(cmd.Context(), cf.cfg.Stream, cf.cfg.Consumer); err != nil {
					return cf.consumerMissing(err)
				}
				fmt.Fprintln(stdout, "resumed")
				return nil
			})
		},
	}
	var statusOut, circuitsOut outputFlag
	status := &cobra.Command{
		Use: "status", Short: "Say whether remediation is paused and how much waits (-o table, json or yaml)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := statusOut.check(); err != nil {
				return err
			}
			return cf.withConn(cmd, connLogger(cmd), func(c *natsConn) error { return controlStatus(cmd, stdout, c, &cf, statusOut) })
		},
	}
	statusOut.register(status.Flags(), "table", "json", "yaml")
	circuits := &cobra.Command{
		Use: "circuits", Short: "List the open circuits of the blast-radius guard (-o table, json or yaml)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := circuitsOut.check(); err != nil {
				return err
			}
			return cf.withConn(cmd, connLogger(cmd), func(c *natsConn) error { return listCircuits(cmd, stdout, c, &cf, circuitsOut) })
		},
	}
	circuitsOut.register(circuits.Flags(), "table", "json", "yaml")
	cmd.AddCommand(pause, resume, status, circuits)
	return cmd
}

// consumerMissing explains a missing intake stream or consumer.
func (cf *clientFlags) consumerMissing(err error) error {
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return cf.missing(err, "stream", cf.cfg.Stream, "--stream")
	}
	return cf.missing(err, "consumer", cf.cfg.Consumer+" on stream "+cf.cfg.Stream, "--consumer")
}

// statusOut is control status in -o json and yaml (fields in README,
// Operations).
type statusOut struct {
	Stream         string     `json:"stream"`
	Consumer       string     `json:"consumer"`
	Paused         bool       `json:"paused"`
	PauseUntil     *time.Time `json:"pause_until,omitempty"`
	PauseRemaining float64    `json:"pause_remaining_seconds"`
	Waiting        uint64     `json:"waiting"`
	InProgress     int        `json:"in_progress"`
}

func controlStatus(cmd *cobra.Command, w io.Writer, c *natsConn, cf *clientFlags, out outputFlag) error {
	cons, err := c.js.Consumer(cmd.Context(), cf.cfg.Stream, cf.cfg.Consumer)
	if err != nil {
		return cf.consumerMissing(err)
	}
	info := cons.CachedInfo()
	if out.format != "table" {
		s := statusOut{Stream: cf.cfg.Stream, Consumer: cf.cfg.Consumer, Paused: info.Paused, Waiting: info.NumPending, InProgress: info.NumAckPending}
		if info.Paused && info.Config.PauseUntil != nil {
			until := info.Config.PauseUntil.UTC()
			s.PauseUntil, s.PauseRemaining = &until, info.PauseRemaining.Seconds()
		}
		return out.write(w, s)
	}
	state := "running"
	if info.Paused {
		state = fmt.Sprintf("paused (%s left)", info.PauseRemaining.Round(time.Second))
	}
	fmt.Fprintf(w, "%s; %d events waiting, %d in progress\n", state, info.NumPending, info.NumAckPending)
	return nil
}

func resumeCircuit(cmd *cobra.Command, w io.Writer, c *natsConn, cf *clientFlags, rule string) error {
	kv, err := c.js.KeyValue(cmd.Context(), cf.cfg.ControlBucket)
	if err != nil {
		return cf.missing(err, "KV bucket", cf.cfg.ControlBucket, "")
	}
	if _, err := kv.Get(cmd.Context(), guard.CircuitKey(rule)); err != nil {
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return fmt.Errorf("no open circuit for %s (`remediator control circuits` lists the open ones)", rule)
		}
		return fmt.Errorf("circuit of %s: %w", rule, err)
	}
	if err := kv.Delete(cmd.Context(), guard.CircuitKey(rule)); err != nil {
		return err
	}
	fmt.Fprintf(w, "circuit of %s closed\n", rule)
	return nil
}

// circuitOut is an open circuit as listed (the value worker/guard stores,
// and its key); its JSON is -o json's (fields in README, Operations).
type circuitOut struct {
	Key      string     `json:"key"`
	Rule     string     `json:"rule"`
	OpenedAt *time.Time `json:"opened_at,omitempty"`
	Until    *time.Time `json:"until,omitempty"`
	Reason   string     `json:"reason"`
}

func listCircuits(cmd *cobra.Command, w io.Writer, c *natsConn, cf *clientFlags, out outputFlag) error {
	kv, err := c.js.KeyValue(cmd.Context(), cf.cfg.ControlBucket)
	if err != nil {
		return cf.missing(err, "KV bucket", cf.cfg.ControlBucket, "")
	}
	keys, err := kv.ListKeysFiltered(cmd.Context(), "circuit.>")
	if err != nil {
		return err
	}
	rows := []circuitOut{}
	for k := range keys.Keys() {
		e, err := kv.Get(cmd.Context(), k)
		if err != nil {
			continue // closed since it was listed
		}
		var v struct {
			Rule     string    `json:"rule"`
			OpenedAt time.Time `json:"opened_at"`
			Until    time.Time `json:"until"`
			Reason   string    `json:"reason"`
		}
		_ = json.Unmarshal(e.Value(), &v) // an unreadable value still lists its key
		r := circuitOut{Key: k, Rule: v.Rule, Reason: v.Reason}
		if !v.OpenedAt.IsZero() {
			t := v.OpenedAt.UTC()
			r.OpenedAt = &t
		}
		if !v.Until.IsZero() {
			t := v.Until.UTC()
			r.Until = &t
		}
		rows = append(rows, r)
	}
	if out.format != "table" {
		return out.write(w, rows)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RULE\tOPENED\tUNTIL\tREASON")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", dash(r.Rule), timeOrDash(r.OpenedAt), timeOrDash(r.Until), dash(r.Reason))
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "%d open circuits\n", len(rows))
	return nil
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}
