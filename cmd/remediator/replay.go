package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/remediator/remediator/events"
	"github.com/remediator/remediator/worker"
)

// replayCounts are what a replay did.
type replayCounts struct {
	published, duplicate, rejected int
}

func newReplayCmd(stdout io.Writer) *cobra.Command {
	var (
		natsURL, mode string
		cfg           = worker.DefaultConfig()
	)
	cmd := &cobra.Command{
		Use:   "replay PATH...",
		Short: "Publish CloudEvent JSON files, directories or JSON Lines to the intake stream",
		Long: "Publishes each event with Nats-Msg-Id derived from its source and id, so replaying the\n" +
			"same fixtures again within the stream's duplicate window creates no new work.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if natsURL == "" {
				natsURL = os.Getenv("NATS_URL")
			}
			if natsURL == "" {
				natsURL = "nats://127.0.0.1:4222"
			}
			conn, err := connect(natsURL, "", "", zap.NewNop())
			if err != nil {
				return err
			}
			defer conn.close()
			if _, err := worker.EnsureTopology(cmd.Context(), conn.js, cfg); err != nil {
				return err
			}
			raws, readErr := events.ReadFixtures(args...)
			n, err := replay(cmd.Context(), conn, cfg, raws, events.Mode(mode))
			n.rejected += countJoined(readErr)
			if readErr != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), readErr)
			}
			fmt.Fprintf(stdout, "published %d, duplicate %d, rejected %d\n", n.published, n.duplicate, n.rejected)
			if err != nil {
				return err
			}
			if n.rejected > 0 {
				return exitError{code: 1}
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&natsURL, "nats-url", "", "NATS server URL (env NATS_URL, default nats://127.0.0.1:4222)")
	fs.StringVar(&mode, "mode", "structured", "CloudEvents content mode: structured or binary")
	fs.StringVar(&cfg.Stream, "stream", cfg.Stream, "intake stream")
	fs.StringVar(&cfg.Subject, "subject", cfg.Subject, "intake subjects")
	return cmd
}

func replay(ctx context.Context, conn *natsConn, cfg worker.Config, raws []events.Raw, mode events.Mode) (replayCounts, error) {
	var n replayCounts
	for _, r := range raws {
		dup, err := worker.Publish(ctx, conn.js, cfg, r, mode)
		var inv *events.InvalidError
		switch {
		case errors.As(err, &inv):
			n.rejected++
		case err != nil:
			return n, fmt.Errorf("%s: %w", r.Origin, err)
		case dup:
			n.duplicate++
		default:
			n.published++
		}
	}
	return n, nil
}

func countJoined(err error) int {
	if err == nil {
		return 0
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return 1
	}
	n := 0
	for _, e := range j.Unwrap() {
		n += countJoined(e)
	}
	return n
}
