package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/remediator/remediator/worker"
	"github.com/remediator/remediator/worker/guard"
)

// newControlCmd pauses and resumes remediation for every replica at once,
// by pausing the shared durable consumer on the server: no replica is
// handed an event while it is paused, in-flight work finishes, and events
// wait in the stream (they are not redelivered, so no attempt is spent).
func newControlCmd(stdout io.Writer) *cobra.Command {
	var cf clientFlags
	cmd := &cobra.Command{Use: "control", Short: "Pause or resume remediation across all replicas"}
	cf.register(cmd)
	cmd.PersistentFlags().StringVar(&cf.cfg.Stream, "stream", cf.cfg.Stream, "intake stream")
	cmd.PersistentFlags().StringVar(&cf.cfg.Consumer, "consumer", cf.cfg.Consumer, "durable consumer shared by the replicas")
	var dur time.Duration
	pause := &cobra.Command{
		Use: "pause", Short: "Stop handing events to every replica (--for D, default until resumed)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			until := time.Now().Add(100 * 365 * 24 * time.Hour)
			if dur > 0 {
				until = time.Now().Add(dur)
			}
			return withConn(&cf, connLogger(cmd), func(c *natsConn) error {
				r, err := c.js.PauseConsumer(cmd.Context(), cf.cfg.Stream, cf.cfg.Consumer, until)
				if err != nil {
					return err
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
			return withConn(&cf, connLogger(cmd), func(c *natsConn) error {
				if len(args) == 1 {
					return resumeCircuit(cmd, stdout, c, cf.cfg, args[0])
				}
				if _, err := c.js.ResumeConsumer(cmd.Context(), cf.cfg.Stream, cf.cfg.Consumer); err != nil {
					return err
				}
				fmt.Fprintln(stdout, "resumed")
				return nil
			})
		},
	}
	status := &cobra.Command{
		Use: "status", Short: "Say whether remediation is paused and how much waits", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withConn(&cf, connLogger(cmd), func(c *natsConn) error {
				cons, err := c.js.Consumer(cmd.Context(), cf.cfg.Stream, cf.cfg.Consumer)
				if err != nil {
					return err
				}
				info, err := cons.Info(cmd.Context())
				if err != nil {
					return err
				}
				state := "running"
				if info.Paused {
					state = fmt.Sprintf("paused (%s left)", info.PauseRemaining.Round(time.Second))
				}
				fmt.Fprintf(stdout, "%s; %d events waiting, %d in progress\n", state, info.NumPending, info.NumAckPending)
				return nil
			})
		},
	}
	circuits := &cobra.Command{
		Use: "circuits", Short: "List the open circuits of the blast-radius guard", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withConn(&cf, connLogger(cmd), func(c *natsConn) error { return listCircuits(cmd, stdout, c, cf.cfg) })
		},
	}
	cmd.AddCommand(pause, resume, status, circuits)
	return cmd
}

func resumeCircuit(cmd *cobra.Command, w io.Writer, c *natsConn, cfg worker.Config, rule string) error {
	kv, err := c.js.KeyValue(cmd.Context(), cfg.ControlBucket)
	if err != nil {
		return err
	}
	if _, err := kv.Get(cmd.Context(), guard.CircuitKey(rule)); err != nil {
		return fmt.Errorf("no open circuit for %s: %w", rule, err)
	}
	if err := kv.Delete(cmd.Context(), guard.CircuitKey(rule)); err != nil {
		return err
	}
	fmt.Fprintf(w, "circuit of %s closed\n", rule)
	return nil
}

func listCircuits(cmd *cobra.Command, w io.Writer, c *natsConn, cfg worker.Config) error {
	kv, err := c.js.KeyValue(cmd.Context(), cfg.ControlBucket)
	if err != nil {
		return err
	}
	keys, err := kv.ListKeysFiltered(cmd.Context(), "circuit.>")
	if err != nil {
		return err
	}
	n := 0
	for k := range keys.Keys() {
		e, err := kv.Get(cmd.Context(), k)
		if err != nil {
			continue
		}
		fmt.Fprintf(w, "%s %s\n", k, e.Value())
		n++
	}
	fmt.Fprintf(w, "%d open circuits\n", n)
	return nil
}
